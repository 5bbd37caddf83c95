//! The stack's CloudWatch dashboard (`infra/template.yaml`, resource `Dashboard`): once
//! CloudFormation has substituted its `${…}` references, the body is JSON; it shows the
//! errors, throttles and durations of every function of the template, every metric the
//! functions emit (`wfo_pipeline::metrics::ALL`), both dead-letter queues, and a Logs
//! Insights widget over every function's log group. The template is read as text (no
//! YAML parser here): the body is the block scalar under `DashboardBody: !Sub |`.

use std::collections::BTreeSet;

use serde_json::Value;

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    std::fs::read_to_string(path).expect("infra/template.yaml")
}

/// The dashboard body as written in the template (block scalar, dedented).
fn raw_body(template: &str) -> String {
    let mut lines = template.lines().skip_while(|l| l.trim() != "DashboardBody: !Sub |");
    let header = lines.next().expect("a DashboardBody: !Sub | block");
    let indent = header.len() - header.trim_start().len() + 2;
    let mut body = String::new();
    for l in lines {
        if !l.trim().is_empty() && l.len() - l.trim_start().len() < indent {
            break;
        }
        body.push_str(l.get(indent..).unwrap_or(""));
        body.push('\n');
    }
    body
}

/// `${Name}` and `${Name.Attr}` references of a `!Sub` string, in order.
fn references(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').expect("a closed ${…}");
        out.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    out
}

/// What CloudFormation would make of the body, each reference replaced by its name.
fn substituted(body: &str) -> String {
    let mut s = body.to_owned();
    for r in references(body) {
        s = s.replace(&format!("${{{r}}}"), &r);
    }
    s
}

fn dashboard() -> Value {
    let body = substituted(&raw_body(&template()));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("the dashboard body is not JSON: {e}\n{body}"))
}

/// Logical ids of the template's resources of `kind`.
fn resources_of(template: &str, kind: &str) -> Vec<String> {
    let lines: Vec<&str> = template.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[1].trim() == format!("Type: {kind}") && w[0].starts_with("  ") && !w[0].starts_with("   "))
        .map(|w| w[0].trim().trim_end_matches(':').to_owned())
        .collect()
}

fn widgets(d: &Value) -> &Vec<Value> {
    d["widgets"].as_array().expect("widgets")
}

/// Every metric row (`[namespace, name, dim, value, …]`) of every metric widget.
fn metric_rows(d: &Value) -> Vec<Vec<String>> {
    widgets(d)
        .iter()
        .filter_map(|w| w["properties"]["metrics"].as_array())
        .flatten()
        .filter_map(|row| row.as_array())
        .map(|row| {
            row.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// Every metric math expression of every metric widget.
fn expressions(d: &Value) -> Vec<String> {
    widgets(d)
        .iter()
        .filter_map(|w| w["properties"]["metrics"].as_array())
        .flatten()
        .filter_map(|row| row.as_array())
        .flatten()
        .filter_map(|v| v["expression"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_dashboard_body_is_json_of_widgets_on_a_24_column_grid() {
    let d = dashboard();
    assert!(widgets(&d).len() > 10);
    for w in widgets(&d) {
        let n = |k: &str| w[k].as_u64().unwrap_or_else(|| panic!("widget without {k}: {w}"));
        assert!(n("x") + n("width") <= 24, "{w}");
        assert!(n("height") > 0);
        let kind = w["type"].as_str().unwrap();
        assert!(["metric", "log", "text"].contains(&kind), "{kind}");
        if kind != "text" {
            assert_eq!(w["properties"]["region"], "AWS::Region", "{w}");
        }
        // A metric widget's entries are each an array (a metric row or `[{expression}]`).
        if kind == "metric" {
            let rows = w["properties"]["metrics"].as_array().expect("metrics");
            assert!(!rows.is_empty() && rows.iter().all(Value::is_array), "{w}");
        }
    }
}

#[test]
fn every_reference_in_the_body_names_a_resource_or_a_pseudo_parameter() {
    let t = template();
    let ids: BTreeSet<String> = t
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':').to_owned())
        .collect();
    for r in references(&raw_body(&t)) {
        let name = r.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::") || ids.contains(name),
            "${{{r}}} names nothing in the template"
        );
        assert!(!r.starts_with('!'), "no escaped ${{!…}} expected");
    }
}

#[test]
fn every_function_has_its_errors_throttles_and_duration_on_the_dashboard() {
    let t = template();
    let functions = resources_of(&t, "AWS::Serverless::Function");
    assert_eq!(functions.len(), 4, "{functions:?}");
    let rows = metric_rows(&dashboard());
    for f in &functions {
        for metric in ["Errors", "Throttles", "Duration"] {
            assert!(
                rows.iter().any(|r| r.len() >= 4
                    && r[0] == "AWS/Lambda"
                    && r[1] == metric
                    && r[2] == "FunctionName"
                    && r[3] == *f),
                "no {metric} of {f}"
            );
        }
    }
}

#[test]
fn every_emitted_metric_is_searched_by_connector_or_queue() {
    let exprs = expressions(&dashboard());
    for metric in wfo_pipeline::metrics::ALL {
        let shown = exprs
            .iter()
            .any(|e| e.starts_with("SEARCH('{\"wfo-connect\",") && e.contains(&format!("MetricName=\"{metric}\"'")));
        assert!(shown, "{metric} is not on the dashboard");
    }
    // Per connector without an edit per connector: the connector metrics are searched
    // over the Connector dimension, the dead-letter depth over Queue.
    for e in exprs.iter().filter(|e| e.starts_with("SEARCH(")) {
        assert!(
            e.contains(",Connector}") || e.contains(",Connector,Kind}") || e.contains(",Queue}"),
            "{e}"
        );
    }
}

#[test]
fn both_dead_letter_queues_are_shown() {
    let t = template();
    let queues = resources_of(&t, "AWS::SQS::Queue");
    let dlqs: Vec<&String> = queues.iter().filter(|q| q.contains("DeadLetter")).collect();
    assert_eq!(dlqs.len(), 2, "{queues:?}");
    let rows = metric_rows(&dashboard());
    for q in dlqs {
        assert!(
            rows.iter().any(|r| r.len() >= 4
                && r[0] == "AWS/SQS"
                && r[1] == "ApproximateNumberOfMessagesVisible"
                && r[3] == format!("{q}.QueueName")),
            "{q} is not on the dashboard"
        );
    }
}

#[test]
fn the_logs_insights_widget_reads_every_function_log_group_for_errors() {
    let t = template();
    let d = dashboard();
    let logs: Vec<&Value> = widgets(&d).iter().filter(|w| w["type"] == "log").collect();
    assert_eq!(logs.len(), 1);
    let query = logs[0]["properties"]["query"].as_str().unwrap();
    for group in ["webhook", "oauth", "import-worker", "scheduler"] {
        let name = format!("/wfo-connect/${{AWS::StackName}}/{group}");
        assert!(t.contains(&format!("LogGroupName: !Sub \"{name}\"")), "{name}");
        let substituted = format!("SOURCE '/wfo-connect/AWS::StackName/{group}'");
        assert!(query.contains(&substituted), "{query}");
    }
    // The fields the functions log (`wfo_lambda::init_logging`: JSON with `level`,
    // `fields`, `span`).
    assert!(query.contains(r#"filter level = "ERROR""#), "{query}");
    assert!(
        query.contains("span.connector") && query.contains("fields.message"),
        "{query}"
    );
}

//! Reading fields of outside JSON leniently, with errors that name the field's path: the
//! small readers every source's payload parser starts from (Webex Calling metadata,
//! Contact Center task files).

use serde_json::{Map, Value};

use crate::segment::SegmentError;

/// A JSON object.
pub type Obj = Map<String, Value>;

/// `parent.name` (or `name` at the top).
pub fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// What a value is, for messages ("a string", "an array", …).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The field at `path` is not what was expected.
pub fn wrong(path: String, expected: &'static str, v: &Value) -> SegmentError {
    SegmentError::WrongType {
        path,
        expected,
        found: type_name(v),
    }
}

/// A field, `null` counting as absent.
pub fn get<'a>(obj: &'a Obj, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// The value as an object, or an error naming `path`.
pub fn as_obj<'a>(v: &'a Value, path: &str) -> Result<&'a Obj, SegmentError> {
    v.as_object().ok_or_else(|| wrong(path.to_owned(), "an object", v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_wrong_types_are_named() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a.b", "c"), "a.b.c");
        let v = json!({"x": null, "y": [1]});
        let o = as_obj(&v, "doc").unwrap();
        assert!(get(o, "x").is_none(), "null is absent");
        assert_eq!(
            as_obj(&v["y"], "doc.y").unwrap_err().to_string(),
            "doc.y: expected an object, found an array"
        );
    }
}

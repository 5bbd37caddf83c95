//! What the task plane tells the control plane: a task ended, a capture became
//! available. The control plane turns each into a signed delivery to every active
//! subscription that asked for that event type.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEventKind {
    /// `task:ended`
    TaskEnded,
    /// `capture:available`
    CaptureAvailable,
}

impl TaskEventKind {
    /// The event type as subscriptions name it.
    pub fn event_type(self) -> &'static str {
        match self {
            TaskEventKind::TaskEnded => "task:ended",
            TaskEventKind::CaptureAvailable => "capture:available",
        }
    }
}

/// One event, with the `data` object of its delivery envelope (reference §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEvent {
    pub kind: TaskEventKind,
    pub task_id: String,
    /// When it happened (simulator clock).
    pub at: DateTime<Utc>,
    /// The envelope's `data` (for `capture:available`: `taskId`, `filePath`, `createdTime`).
    pub data: Value,
}

//! Why a policy document was refused.

use std::fmt;

/// A policy that does not load: which policy, where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The policy's name (a file, an ARN, `PolicyInputList.1`, ...).
    pub policy: String,
    /// The statement: its position counted from 1, and its `Sid`.
    pub statement: Option<String>,
    /// The statement's position, from 0.
    pub statement_index: Option<u32>,
    /// The element (`Effect`, `Condition`, ...), when the problem is in one.
    pub element: Option<String>,
    /// What is wrong.
    pub message: String,
    /// Line and column in the text, for JSON syntax errors.
    pub position: Option<(u32, u32)>,
}

impl PolicyError {
    /// An error in the whole policy `policy`, with no position.
    pub fn new(policy: &str, message: impl Into<String>) -> PolicyError {
        PolicyError {
            policy: policy.to_owned(),
            statement: None,
            statement_index: None,
            element: None,
            message: message.into(),
            position: None,
        }
    }

    pub(crate) fn in_element(mut self, element: &str) -> PolicyError {
        self.element = Some(element.to_owned());
        self
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policy '{}'", self.policy)?;
        if let Some((line, column)) = self.position {
            write!(f, " at line {line}, column {column}")?;
        }
        if let Some(statement) = &self.statement {
            write!(f, ", statement {statement}")?;
        }
        if let Some(element) = &self.element {
            write!(f, ", element {element}")?;
        }
        write!(f, ": {}", self.message)
    }
}

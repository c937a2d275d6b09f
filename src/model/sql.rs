//! The one thing the host model asks of a runtime's storage: run a
//! statement of [`crate::registry`] with parameters and hand back rows.
//! rusqlite (native) and the Durable Object's SQLite (edge) both implement
//! it, so every read and write the model makes is the same SQL with the
//! same parameters on both hosts.
use std::string::{String, ToString};
use std::vec::Vec;

/// A parameter or a column value. SQLite's other types never occur in the
/// registry; a runtime maps anything else to the nearest of these.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    /// As an integer (0 for NULL or a non-numeric text).
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Text(s) => s.parse().unwrap_or(0),
            Value::Null => 0,
        }
    }

    /// As text ("" for NULL).
    pub fn text(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Null => String::new(),
        }
    }

    /// A count or other non-negative integer.
    pub fn count(&self) -> u64 {
        self.int().max(0) as u64
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.into())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<crate::Guid> for Value {
    /// GUIDs are stored in their lower-case text form.
    fn from(v: crate::Guid) -> Self {
        Value::Text(v.to_string())
    }
}

/// A registry store.
pub trait Sql {
    type Error: core::fmt::Display;
    /// Runs `sql` with `?1…` bound to `params`; every row, in order.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, Self::Error>;
    /// Runs a statement that returns no rows.
    fn execute(&self, sql: &str, params: &[Value]) -> Result<(), Self::Error>;

    /// The first column of the first row, if any.
    fn scalar(&self, sql: &str, params: &[Value]) -> Result<Option<Value>, Self::Error> {
        Ok(self.query(sql, params)?.into_iter().next().and_then(|r| r.into_iter().next()))
    }
}

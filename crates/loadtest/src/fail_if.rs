//! `--fail-if` conditions: `NAME OP VALUE` over the report's numeric figures.

use std::fmt;

use serde_json::{Map, Value};

use crate::LoadtestError;

/// A comparison operator of a [`FailIf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
}

impl Op {
    /// Operators in the order the parser tries them: two-character ones first, so that `>=`
    /// is not read as `>` followed by `=1`.
    const ALL: [(&'static str, Op); 5] = [
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("==", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ];

    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
        }
    }

    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Eq => left == right,
        }
    }
}

/// One `--fail-if` condition, e.g. `p99_input_latency_ticks>1.25`.
#[derive(Clone, Debug, PartialEq)]
pub struct FailIf {
    /// The figure's JSON key.
    pub name: String,
    /// The comparison.
    pub op: Op,
    /// The threshold, in the figure's unit.
    pub value: f64,
}

impl fmt::Display for FailIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op.symbol(), self.value)
    }
}

impl FailIf {
    /// Parses `NAME OP VALUE` (spaces allowed around the operator).
    pub fn parse(text: &str) -> Result<FailIf, String> {
        let (at, sym, op) = Op::ALL
            .iter()
            .filter_map(|&(sym, op)| text.find(sym).map(|at| (at, sym, op)))
            // The leftmost operator; at equal positions ALL's order already prefers `>=`.
            .min_by_key(|&(at, _, _)| at)
            .ok_or_else(|| format!("{text:?} has no operator (> >= < <= ==)"))?;
        let name = text[..at].trim();
        let value = text[at + sym.len()..].trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(format!(
                "{text:?}: the name must be a figure's JSON key such as errors"
            ));
        }
        let value: f64 = value
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("{text:?}: {value:?} is not a number"))?;
        Ok(FailIf {
            name: name.to_owned(),
            op,
            value,
        })
    }

    /// Checks that the name is one of `figures`' numeric keys.
    pub fn check_name(&self, figures: &Map<String, Value>) -> Result<(), LoadtestError> {
        match figures.get(&self.name) {
            Some(Value::Number(_)) => Ok(()),
            _ => Err(LoadtestError::UnknownFigure(self.name.clone())),
        }
    }

    /// The figure's value when the condition holds, `None` when it does not.
    pub fn evaluate(&self, figures: &Map<String, Value>) -> Result<Option<f64>, LoadtestError> {
        self.check_name(figures)?;
        let value = figures
            .get(&self.name)
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN);
        Ok(self.op.holds(value, self.value).then_some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operator() {
        let p = |s| FailIf::parse(s).unwrap();
        assert_eq!(p("errors>0").op, Op::Gt);
        assert_eq!(p("errors >= 1").op, Op::Ge);
        assert_eq!(p("frame_ratio<0.9").op, Op::Lt);
        assert_eq!(p("frame_ratio<=0.9").op, Op::Le);
        assert_eq!(p("decode_errors==0").op, Op::Eq);
        let f = p("p99_input_latency_ticks>1.25");
        assert_eq!(
            (f.name.as_str(), f.value),
            ("p99_input_latency_ticks", 1.25)
        );
        assert_eq!(f.to_string(), "p99_input_latency_ticks>1.25");
        for bad in [
            "errors",
            ">1",
            "errors>x",
            "Errors>1",
            "a-b>1",
            "errors>inf",
        ] {
            assert!(FailIf::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn evaluates_against_figures() {
        let figures: Map<String, Value> =
            serde_json::from_str(r#"{"errors": 2, "frame_ratio": 0.95, "url": "x"}"#).unwrap();
        let eval = |s| FailIf::parse(s).unwrap().evaluate(&figures);
        assert_eq!(eval("errors>0").unwrap(), Some(2.0));
        assert_eq!(eval("errors>2").unwrap(), None);
        assert_eq!(eval("frame_ratio<0.9").unwrap(), None);
        assert!(eval("nope>1").is_err());
        assert!(eval("url>1").is_err());
    }
}

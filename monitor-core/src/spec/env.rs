//! `${VAR}` substitution: secrets live in the environment, not in spec files.
//!
//! Every string in a spec may hold `${NAME}`; it is replaced by the variable's value.
//! An unset variable is an error naming the field. `$${` writes a literal `${`.

use serde_json::Value;

use super::reader::{index, join, Problems};

/// Replaces `${VAR}` in every string of `value`, in place, looking variables up with `lookup`.
pub(crate) fn expand(value: &mut Value, path: &str, lookup: &dyn Fn(&str) -> Option<String>, p: &mut Problems) {
    match value {
        Value::String(s) if s.contains('$') => match expand_str(s, lookup) {
            Ok(out) => *s = out,
            Err(msg) => p.push(path, msg),
        },
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &index(path, i), lookup, p);
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                expand(v, &join(path, k), lookup, p);
            }
        }
        _ => {}
    }
}

/// Expands one string.
///
/// ```text
/// "Bearer ${TOKEN}"  -> "Bearer abc"      (TOKEN=abc)
/// "$${TOKEN}"        -> "${TOKEN}"
/// "cost: $5"         -> "cost: $5"        (a `$` not followed by `{` stays)
/// ```
pub(crate) fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let end = tail.find('}').ok_or_else(|| format!("unterminated \"${{\" in {s:?}"))?;
            let name = &tail[..end];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("\"${{{name}}}\" is not a valid environment variable reference"));
            }
            let val = lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
            out.push_str(&val);
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "TOKEN").then(|| "abc".to_string())
    }

    #[test]
    fn substitutes_escapes_and_leaves_lone_dollars() {
        assert_eq!(expand_str("Bearer ${TOKEN}", &env).unwrap(), "Bearer abc");
        assert_eq!(expand_str("$${TOKEN} and $5", &env).unwrap(), "${TOKEN} and $5");
        assert_eq!(
            expand_str("${MISSING}", &env).unwrap_err(),
            "environment variable MISSING is not set"
        );
        assert!(expand_str("${TOKEN", &env).unwrap_err().contains("unterminated"));
        assert!(expand_str("${1X}", &env).unwrap_err().contains("not a valid"));
    }
}

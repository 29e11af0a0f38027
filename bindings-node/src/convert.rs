//! Type conversion only: JS option names to the core's snake_case, Rust results to JS values,
//! and core futures to JS promises (awaited off the JS thread).

use crate::errors::Failure;
use futures::FutureExt;
use napi::bindgen_prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;

/// `hostInterval` -> `host_interval`. Only plain camelCase identifiers change: header names
/// (`X-Request-Id`), JSON paths (`$.status`) and snake_case keys are left as they are.
pub fn snake_key(key: &str) -> String {
    let camel = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
        && key.chars().any(|c| c.is_ascii_uppercase());
    if !camel {
        return key.to_string();
    }
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keys whose values are maps of the user's own names (headers, JSON paths): kept verbatim.
const VERBATIM: [&str; 3] = ["headers", "headers_match", "json"];

/// Converts the keys of a config, spec or query object (recursively) to snake_case.
pub fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let k = snake_key(&k);
                let v = if VERBATIM.contains(&k.as_str()) {
                    v
                } else {
                    snake_keys(v)
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

/// A core value as a JS value, through its serde shape (the same JSON shape in every language):
/// serialized to JSON text off the napi object API, then read by V8's `JSON.parse`, which is
/// much faster for large values (status of 1,000 checks) than building them property by property.
pub fn to_js<'e, T: Serialize>(env: &'e Env, value: &T) -> Result<Unknown<'e>> {
    let text = serde_json::to_string(value).map_err(|e| Error::from_reason(e.to_string()))?;
    json_parse(env, &text)
}

/// `JSON.parse(text)`.
pub fn json_parse<'e>(env: &Env, text: &str) -> Result<Unknown<'e>> {
    let global = env.get_global()?;
    let json: Object = global.get_named_property("JSON")?;
    let parse: Function<&str, Unknown<'e>> = json.get_named_property("parse")?;
    parse.call(text)
}

/// Runs a core future on napi's executor (the work itself runs on the engine's runtime) and
/// returns a promise: resolved with `convert(value)`, rejected with the mapped JS error.
/// A panic while polling becomes `UPWATCH_PANIC`.
pub fn promise<'e, T, V, F, C>(env: &'e Env, fut: F, convert: C) -> Result<PromiseRaw<'e, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = std::result::Result<T, Failure>> + Send + 'static,
    C: FnOnce(&'e Env, T) -> Result<V> + 'static,
{
    let fut = async move {
        let out = std::panic::AssertUnwindSafe(fut)
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(Failure::panic(payload)));
        Ok::<_, Error>(out)
    };
    env.spawn_future_with_callback(fut, move |env, out| match out {
        Ok(value) => convert(env, value),
        Err(failure) => Err(failure.into_napi(env)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn camel_case_keys_become_snake_case_except_user_maps() {
        assert_eq!(snake_key("hostInterval"), "host_interval");
        assert_eq!(snake_key("maxPerHost"), "max_per_host");
        assert_eq!(snake_key("db"), "db");
        assert_eq!(snake_key("host_interval"), "host_interval");
        assert_eq!(snake_key("X-Request-Id"), "X-Request-Id");
        let v = snake_keys(json!({
            "hostInterval": "off",
            "retention": { "maxBytes": "1GiB" },
            "checks": [{ "name": "a", "retryInterval": "1s",
                         "headers": { "xApiKey": "k" },
                         "expect": { "bodyContains": "ok", "json": { "$.fooBar": 1 }, "headersMatch": { "contentType": "json" } } }],
        }));
        assert_eq!(
            v,
            json!({
                "host_interval": "off",
                "retention": { "max_bytes": "1GiB" },
                "checks": [{ "name": "a", "retry_interval": "1s",
                             "headers": { "xApiKey": "k" },
                             "expect": { "body_contains": "ok", "json": { "$.fooBar": 1 }, "headers_match": { "contentType": "json" } } }],
            })
        );
    }
}

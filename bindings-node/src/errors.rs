//! Core errors as JS `Error`s: `code` is `"UPWATCH_" + ErrorCode::as_str().toUpperCase()`,
//! spec and argument errors also carry `path` and `problems`. Mapped once, by code.

use monitor_core::embed::EmbedError;
use napi::bindgen_prelude::*;
use std::any::Any;

/// A failed call, before it becomes a JS error (it crosses threads; JS values cannot).
#[derive(Debug)]
pub struct Failure {
    /// `ErrorCode::as_str()` (`"spec"`, `"unknown_check"`, ...).
    pub code: &'static str,
    pub message: String,
    pub path: Option<String>,
    /// (path, message) of every spec problem or of the invalid argument.
    pub problems: Vec<(String, String)>,
}

impl From<EmbedError> for Failure {
    fn from(e: EmbedError) -> Self {
        let code = e.code().as_str();
        let mut problems: Vec<(String, String)> = e
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        if let (EmbedError::InvalidArgument { field, message }, true) = (&e, problems.is_empty()) {
            problems.push((field.clone(), message.clone()));
        }
        Failure {
            code,
            message: e.to_string(),
            path: e.path().map(str::to_string),
            problems,
        }
    }
}

impl Failure {
    /// A bad argument of a binding call (what `EmbedError::InvalidArgument` says in the core).
    pub fn invalid(field: &str, message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure {
            code: "invalid_argument",
            message: format!("{field}: {message}"),
            path: Some(field.to_string()),
            problems: vec![(field.to_string(), message)],
        }
    }

    /// A Rust panic caught at the boundary.
    pub fn panic(payload: Box<dyn Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Failure {
            code: "panic",
            message: format!("internal error: {what}"),
            path: None,
            problems: Vec::new(),
        }
    }

    /// The JS `code`: `UPWATCH_SPEC`, `UPWATCH_UNKNOWN_CHECK`, ...
    pub fn js_code(&self) -> String {
        format!("UPWATCH_{}", self.code.to_ascii_uppercase())
    }

    /// The JS `Error` object, as a napi error that throws/rejects with exactly that object.
    pub fn into_napi(self, env: &Env) -> Error {
        match self.build(env) {
            Ok(e) => e,
            Err(e) => e,
        }
    }

    fn build(&self, env: &Env) -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, self.message.clone()))?;
        obj.set_named_property("code", self.js_code())?;
        if let Some(path) = &self.path {
            obj.set_named_property("path", path.as_str())?;
        }
        if matches!(self.code, "spec" | "invalid_argument") {
            let list: Vec<serde_json::Value> = self
                .problems
                .iter()
                .map(|(path, message)| serde_json::json!({ "path": path, "message": message }))
                .collect();
            obj.set_named_property("problems", serde_json::Value::Array(list))?;
        }
        Ok(Error::from(obj.to_unknown()))
    }
}

/// Runs a synchronous call: its failure or panic becomes the JS error.
pub fn guard<T>(env: &Env, f: impl FnOnce() -> std::result::Result<T, Failure>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(failure)) => Err(failure.into_napi(env)),
        Err(payload) => Err(Failure::panic(payload).into_napi(env)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_core::embed::ErrorCode;

    /// Every core code, checked exhaustively: a new `ErrorCode` fails to compile here until
    /// it is listed (and then must appear in the TypeScript union).
    fn every_code() -> Vec<ErrorCode> {
        use ErrorCode::*;
        let all = vec![
            Spec,
            UnknownCheck,
            DuplicateCheck,
            NotAPushCheck,
            MissingCallable,
            Store,
            Forwarded,
            Host,
            InvalidArgument,
            Closed,
            Panic,
            Runtime,
        ];
        for c in &all {
            match c {
                Spec | UnknownCheck | DuplicateCheck | NotAPushCheck | MissingCallable | Store | Forwarded | Host
                | InvalidArgument | Closed | Panic | Runtime => {}
            }
        }
        all
    }

    #[test]
    fn every_error_code_has_its_js_code_in_the_typescript_types() {
        let types = include_str!("../types.d.ts");
        for code in every_code() {
            let f = Failure {
                code: code.as_str(),
                message: String::new(),
                path: None,
                problems: Vec::new(),
            };
            let js = f.js_code();
            assert!(js.starts_with("UPWATCH_") && js == js.to_ascii_uppercase(), "{js}");
            assert!(types.contains(&format!("'{js}'")), "{js} is missing from types.d.ts");
        }
    }

    #[test]
    fn spec_errors_keep_every_problem_and_argument_errors_name_their_field() {
        let spec = monitor_core::embed::Embedded::from_value(serde_json::json!({ "lease": "soon", "threads": 0 }))
            .err()
            .unwrap();
        let f = Failure::from(spec);
        assert_eq!((f.code, f.path.as_deref()), ("spec", Some("lease")));
        assert_eq!(f.problems.len(), 2);
        assert_eq!(f.js_code(), "UPWATCH_SPEC");
        let f = Failure::from(monitor_core::embed::window("soon").unwrap_err());
        assert_eq!((f.code, f.path.as_deref()), ("invalid_argument", Some("window")));
        assert_eq!(f.problems[0].0, "window");
        let p = Failure::panic(Box::new("boom"));
        assert_eq!((p.code, p.message.as_str()), ("panic", "internal error: boom"));
    }
}

//! Why a command failed, as a short message for stderr and an exit code.
//!
//! Messages read `upwatch: could not read foo.toml: No such file or directory`; an invalid
//! spec lists every problem on a line of its own, each with its path.

use monitor_core::spec::SpecError;
use monitor_core::MonitorError;
use std::fmt;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of an invalid spec, an unreadable file or a usage error (as clap uses).
pub const EXIT_SPEC: u8 = 2;
/// Exit code of a check that is down (`check`) or of an agent that failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code after a second Ctrl-C cut the shutdown short (128 + SIGINT).
pub const EXIT_INTERRUPTED: u8 = 130;

/// A failed command: what to tell the user, and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// The message, without the `upwatch: ` prefix; may span several lines.
    pub message: String,
}

impl Failure {
    /// A spec that could not be read or is invalid (exit 2).
    pub fn spec(path: &Path, error: SpecError) -> Failure {
        let file = path.display();
        let message = match error {
            SpecError::Invalid(problems) => {
                let mut text = match problems.len() {
                    1 => format!("{file} has a problem:"),
                    n => format!("{file} has {n} problems:"),
                };
                for p in &problems {
                    text.push_str("\n  ");
                    text.push_str(&p.to_string());
                }
                text
            }
            SpecError::Syntax { format, message } => format!("{file}: {format} syntax error{}", syntax(&message)),
            SpecError::Io { source, .. } => format!("could not read {file}: {}", io_message(&source)),
            other => format!("{file}: {other}"),
        };
        Failure {
            code: EXIT_SPEC,
            message,
        }
    }

    /// A spec the monitor refused to load (exit 2).
    pub fn load(path: &Path, error: MonitorError) -> Failure {
        match error {
            MonitorError::Spec(e) => Failure::spec(path, e),
            MonitorError::MissingCallable { name } => Failure {
                code: EXIT_SPEC,
                message: format!(
                    "{}: check {name:?} is a callable check, which only an application embedding upwatch can run",
                    path.display()
                ),
            },
            other => Failure {
                code: EXIT_SPEC,
                message: format!("{}: {other}", path.display()),
            },
        }
    }

    /// Anything else that kept the command from doing its job (exit 1).
    pub fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_FAILED,
            message: message.into(),
        }
    }

    /// A second stop signal arrived while shutting down (exit 130).
    pub fn interrupted() -> Failure {
        Failure {
            code: EXIT_INTERRUPTED,
            message: "interrupted during shutdown; checks in flight were abandoned".into(),
        }
    }

    /// Prints the message on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!("upwatch: {self}");
        ExitCode::from(self.code)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An I/O error as a sentence, without Rust's ` (os error 2)` suffix.
pub fn io_message(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// A parser's message after `syntax error`: `at line 2, column 10` (TOML, whose snippet
/// follows, indented) or `: EOF while parsing a value at line 1 column 11` (JSON).
fn syntax(message: &str) -> String {
    let message = message.trim().trim_start_matches("TOML parse error ");
    let text = message.lines().collect::<Vec<_>>().join("\n  ");
    if text.starts_with("line ") {
        format!(" at {text}")
    } else if text.starts_with("at ") {
        format!(" {text}")
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_core::spec::Spec;

    #[test]
    fn every_problem_is_on_a_line_of_its_own() {
        let err = Spec::from_toml_str(
            "[[checks]]\nname = \"a\"\nkind = \"http\"\nurl = \"http://x/\"\nintervall = \"5s\"\nexpect = { status = 700 }\n",
        )
        .unwrap_err();
        let f = Failure::spec(Path::new("up.toml"), err);
        assert_eq!(f.code, EXIT_SPEC);
        let lines: Vec<&str> = f.message.lines().collect();
        assert_eq!(lines[0], "up.toml has 2 problems:");
        assert!(
            lines.contains(&"  checks[0].expect.status: 700 is not an HTTP status"),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("  checks[0].intervall: ")),
            "{lines:?}"
        );
    }

    #[test]
    fn syntax_errors_say_where() {
        let toml = Failure::spec(Path::new("a.toml"), Spec::from_toml_str("x = \"").unwrap_err());
        assert!(
            toml.message.starts_with("a.toml: TOML syntax error at line 1, column "),
            "{toml}"
        );
        let json = Failure::spec(Path::new("a.json"), Spec::from_json_str("{").unwrap_err());
        assert!(
            json.message.starts_with("a.json: JSON syntax error: EOF while parsing"),
            "{json}"
        );
    }

    #[test]
    fn a_missing_file_reads_like_a_sentence() {
        let f = Failure::spec(
            Path::new("nope.toml"),
            Spec::from_file("/nonexistent/nope.toml").unwrap_err(),
        );
        assert_eq!(f.message, "could not read nope.toml: No such file or directory");
    }
}

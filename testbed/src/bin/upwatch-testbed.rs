//! Serves one testbed target from its own process, for side-by-side benchmarks with
//! external tools (wrk) and for poking at the routes with curl.
//!
//! `upwatch-testbed http` prints the base URL on the first line, then serves until killed.

use std::io::Write;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let what = std::env::args().nth(1).unwrap_or_default();
    match what.as_str() {
        "http" => {
            let target = upwatch_testbed::HttpTarget::start().await?;
            println!("{}", target.url(""));
            std::io::stdout().flush()?;
            std::future::pending::<()>().await;
            drop(target);
        }
        _ => {
            eprintln!("usage: upwatch-testbed http");
            std::process::exit(2);
        }
    }
    Ok(())
}

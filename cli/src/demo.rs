//! `upwatch demo`: a spec against the test targets of [`upwatch_testbed`], all on 127.0.0.1
//! in this process, and the heartbeats its push check expects.
//!
//! Some targets are broken on purpose, so the table shows every status: a route answering
//! 500 and a certificate that expired (down), a slow route and a certificate that expires in
//! three days (degraded), and healthy HTTP, DNS, TCP and push checks (up).

use monitor_core::Monitor;
use std::time::Duration;
use upwatch_testbed::Testbed;

/// The push check the demo sends heartbeats to.
pub const HEARTBEAT_CHECK: &str = "queue-worker";

/// How often the demo pushes (the check expects one every 5 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(3);

/// The line under the title (or on stderr with `--json`).
pub const INTRO: &str = "The targets run inside this process on 127.0.0.1, and some are broken on purpose.";

/// The demo's spec, in TOML, against `tb`'s targets.
pub fn spec(tb: &Testbed) -> String {
    let ca = tb.certs.ca_file.display().to_string().replace('\\', "\\\\");
    format!(
        r#"
[[services]]
name = "shop"
description = "The storefront: its home page must be up; the rest only degrades it."
critical = ["shop-home"]

[[services]]
name = "platform"
description = "DNS, mail and SSH the shop relies on."

[[services]]
name = "legacy"
description = "An old admin site nobody renewed the certificate of."

[[checks]]
name = "shop-home"
service = "shop"
kind = "http"
url = "{health}"
interval = "5s"
[checks.expect]
status = [200]
json = {{ "$.status" = "UP" }}
response_time = {{ max = "2s", warn = "500ms" }}

[[checks]]
name = "shop-checkout"
service = "shop"
kind = "http"
url = "{error}"
interval = "5s"

[[checks]]
name = "shop-search"
service = "shop"
kind = "http"
url = "{slow}"
interval = "10s"
[checks.expect]
response_time = {{ max = "2s", warn = "200ms" }}

[[checks]]
name = "shop-https"
service = "shop"
kind = "http"
url = "{https}"
ca_file = "{ca}"
interval = "15s"
[checks.expect]
certificate_expires_in = {{ min = "1d", warn = "14d" }}

[[checks]]
name = "mail-mx"
service = "platform"
kind = "dns"
query = "upwatch.test"
record_type = "MX"
nameserver = "{dns}"
interval = "10s"
[checks.expect]
contains = ["10 mail.upwatch.test"]

[[checks]]
name = "www-dns"
service = "platform"
kind = "dns"
query = "www.upwatch.test"
record_type = "A"
nameserver = "{dns}"
interval = "10s"
[checks.expect]
equals = ["192.0.2.10", "192.0.2.11"]

[[checks]]
name = "ssh"
service = "platform"
kind = "tcp"
host = "127.0.0.1"
port = {banner_port}
interval = "10s"
[checks.expect]
banner = '^SSH-2\.0-'

[[checks]]
name = "{heartbeat}"
service = "platform"
kind = "push"
interval = "5s"

[[checks]]
name = "admin-cert"
service = "legacy"
kind = "tls"
host = "127.0.0.1"
port = {expired_port}
ca_file = "{ca}"
interval = "15s"
"#,
        health = tb.http.url("/health"),
        error = tb.http.url("/error"),
        slow = tb.http.url("/slow?ms=300"),
        https = tb.tls.expiring_soon.url("/health"),
        expired_port = tb.tls.expired.addr.port(),
        dns = tb.dns.addr,
        banner_port = tb.tcp.banner.port(),
        heartbeat = HEARTBEAT_CHECK,
    )
}

/// Pushes a heartbeat to [`HEARTBEAT_CHECK`] every few seconds, the way an application's
/// worker would, until the task is dropped.
pub async fn heartbeats(monitor: Monitor) {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    let mut jobs = 0u32;
    loop {
        tick.tick().await;
        jobs += 17 + jobs % 5;
        let message = format!("processed {jobs} jobs");
        if monitor.push(HEARTBEAT_CHECK, true, Some(message)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor_core::spec::Spec;

    #[tokio::test]
    async fn the_demo_spec_is_valid() {
        let tb = Testbed::start().await.unwrap();
        let spec = Spec::from_toml_str(&spec(&tb)).unwrap();
        assert_eq!(spec.checks.len(), 9);
        assert_eq!(spec.services.len(), 3);
        assert!(spec.checks.iter().any(|c| c.name == HEARTBEAT_CHECK));
    }
}

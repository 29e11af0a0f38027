/*
 * Tests of libupwatch from C, run under valgrind by bindings-c/scripts/test.sh.
 *
 * Real things only: a loopback HTTP server in this process (a socket accept loop on its own
 * thread), SQLite files in a temporary directory, fork() with the parent checking the child's
 * exit code under a timeout. Each test prints "ok"/"FAIL" lines and a summary at the end;
 * the exit code is the number of failed tests (capped at 100).
 */
#define _GNU_SOURCE
#include "upwatch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_COUNT_ERRORS 0
#endif

/*
 * How a forked child ends. fork() copies only the calling thread: what the parent's other
 * threads owned (the engine's runtime, which the child leaves alone and rebuilds) is
 * unreachable in the child by design, and valgrind's leak check at the child's exit would
 * count it as lost. Under valgrind the child therefore ends the way a prefork worker that
 * execs does: it adds 64 to its code when valgrind counted a memory error during its work
 * (invalid reads and writes still fail the test), then execs `sh -c 'exit CODE'`, which
 * hands the code to the parent without the exit-time leak check. The parent's own leak
 * check is unaffected.
 */
static void child_exit(int code) {
    if (RUNNING_ON_VALGRIND) {
        if (VALGRIND_COUNT_ERRORS > 0) {
            code |= 64;
        }
        char cmd[32];
        snprintf(cmd, sizeof cmd, "exit %d", code);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    }
    _exit(code);
}

/* ---------------------------------------------------------------- a tiny test framework */

static int failures_in_test;
static int tests_passed, tests_failed;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            const char *e_ = upwatch_last_error();                                        \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__,     \
                    __LINE__, #cond, e_ ? e_ : "none");                                   \
            failures_in_test++;                                                           \
        }                                                                                 \
    } while (0)

#define CHECK_RC(call, expected) CHECK((call) == (expected))

static void run(const char *name, void (*test)(void)) {
    failures_in_test = 0;
    test();
    if (failures_in_test == 0) {
        tests_passed++;
        printf("ok   %s\n", name);
    } else {
        tests_failed++;
        printf("FAIL %s (%d failed checks)\n", name, failures_in_test);
    }
    fflush(stdout);
}

static int contains(const char *haystack, const char *needle) {
    return haystack != NULL && strstr(haystack, needle) != NULL;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---------------------------------------------------------------- a loopback HTTP server */

static int server_fd = -1;
static int server_port;
static pthread_t server_thread;
static atomic_int server_requests;

static atomic_int toggle_up = 1;
/* What the webhook path received last (headers and body), under hook_lock. */
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static char hook_request[8192];
static atomic_int hook_posts;

/* Reads one request: the head, then as much body as Content-Length says (bounded). */
static ssize_t read_request(int c, char *buf, size_t size) {
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(c, buf + got, size - 1 - got, 0);
        if (n <= 0) {
            break;
        }
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            if (got >= size - 1) {
                break;
            }
            continue;
        }
        size_t want = 0;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl != NULL && cl < end) {
            want = strtoul(cl + 17, NULL, 10);
        }
        if ((size_t)(end + 4 - buf) + want <= got || got >= size - 1) {
            break;
        }
    }
    return (ssize_t)got;
}

static void *serve(void *arg) {
    (void)arg;
    for (;;) {
        int c = accept(server_fd, NULL, NULL);
        if (c < 0) {
            return NULL; /* the listening socket was shut down */
        }
        char buf[8192];
        ssize_t n = read_request(c, buf, sizeof buf);
        if (n > 0) {
            atomic_fetch_add(&server_requests, 1);
            int code = 200;
            const char *body = "ok";
            if (strncmp(buf, "GET /status/500 ", 16) == 0) {
                code = 500;
                body = "broken";
            } else if (strncmp(buf, "GET /toggle ", 12) == 0) {
                code = atomic_load(&toggle_up) ? 200 : 503;
            } else if (strncmp(buf, "POST /hook-7f3a ", 16) == 0) {
                pthread_mutex_lock(&hook_lock);
                snprintf(hook_request, sizeof hook_request, "%s", buf);
                pthread_mutex_unlock(&hook_lock);
                atomic_fetch_add(&hook_posts, 1);
            } else if (strncmp(buf, "GET /health ", 12) != 0) {
                code = 404;
                body = "not found";
            }
            char out[512];
            int len = snprintf(out, sizeof out,
                               "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n%s",
                               code, strlen(body), body);
            ssize_t sent = send(c, out, (size_t)len, MSG_NOSIGNAL);
            (void)sent;
        }
        close(c);
    }
}

static void server_start(void) {
    server_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(server_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(server_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(server_fd, 64) != 0) {
        perror("test server");
        exit(100);
    }
    socklen_t len = sizeof a;
    getsockname(server_fd, (struct sockaddr *)&a, &len);
    server_port = ntohs(a.sin_port);
    pthread_create(&server_thread, NULL, serve, NULL);
}

static void server_stop(void) {
    shutdown(server_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    close(server_fd);
}

static char tmpdir[64];

static void on_event(const char *event_json, void *user_data);

/* ---------------------------------------------------------------- tests */

static void test_null_and_freed_handles_are_refused(void) {
    upwatch_monitor *m = (upwatch_monitor *)1;
    char *out = (char *)1;

    CHECK_RC(upwatch_new(NULL, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "out"));
    CHECK_RC(upwatch_status(NULL, &out), UPWATCH_NULL_ARGUMENT);
    CHECK(out == NULL); /* out parameters are cleared before anything can fail */
    CHECK_RC(upwatch_start(NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_free(NULL), UPWATCH_NULL_ARGUMENT);

    /* A made-up pointer is looked up, never dereferenced. */
    upwatch_monitor *bogus = (upwatch_monitor *)(uintptr_t)0xdeadbeef;
    CHECK_RC(upwatch_status(bogus, &out), UPWATCH_INVALID_HANDLE);
    CHECK(contains(upwatch_last_error(), "not a live upwatch handle"));
    CHECK_RC(upwatch_free(bogus), UPWATCH_INVALID_HANDLE);

    CHECK_RC(upwatch_new("{\"host_interval\": \"off\"}", &m), UPWATCH_OK);
    CHECK(m != NULL);
    CHECK_RC(upwatch_status(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_delete(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_register(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_push(m, NULL, true, NULL, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_on_event(m, NULL, NULL, NULL, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_register_callable(m, "{\"name\":\"c\",\"kind\":\"callable\"}", NULL, NULL),
             UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_add_notifier(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_add_alert(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_add_maintenance(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_mute(m, "x", NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_mute(m, NULL, "1m"), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_alerting(m, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_next_alert(m, NULL, 0, NULL), UPWATCH_NULL_ARGUMENT);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);

    /* Every function refuses the freed handle. */
    CHECK_RC(upwatch_free(m), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_status(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_start(m), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_shutdown(m, 0), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_register(m, "{}"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_update(m, "{}"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_delete(m, "x"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_pause(m, "x"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_resume(m, "x"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_run_now(m, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_push(m, "x", true, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_record(m, "x", true, 1.0, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_history(m, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_status_changes(m, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_uptime(m, NULL, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_host(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_prometheus(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_info(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_next_event(m, 0, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_off_event(m, 1), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_add_notifier(m, "{}"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_remove_notifier(m, "x", NULL), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_add_alert(m, "{}"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_remove_alert(m, "x", NULL), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_add_maintenance(m, "{}"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_remove_maintenance(m, "x", NULL), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_mute(m, "x", "1m"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_unmute(m, "x"), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_alerting(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_pending_alerts(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_incidents(m, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_incident_stats(m, NULL, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_readiness(m, NULL, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_next_alert(m, NULL, 0, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_alert_done(m, 1, true, NULL), UPWATCH_INVALID_HANDLE);
    CHECK(out == NULL);

    /* A newer handle never takes the place of a freed one. */
    upwatch_monitor *m2 = NULL;
    CHECK_RC(upwatch_new("{\"host_interval\": \"off\"}", &m2), UPWATCH_OK);
    CHECK(m2 != m);
    CHECK_RC(upwatch_status(m, &out), UPWATCH_INVALID_HANDLE);
    CHECK_RC(upwatch_free(m2), UPWATCH_OK);
}

static void test_strings_are_freed_only_by_the_library(void) {
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new(NULL, &m), UPWATCH_OK);
    char *s = NULL;
    CHECK_RC(upwatch_status(m, &s), UPWATCH_OK);
    CHECK(contains(s, "\"checks\":[]"));
    CHECK_RC(upwatch_string_free(s), UPWATCH_OK);
    CHECK_RC(upwatch_string_free(s), UPWATCH_INVALID_ARGUMENT); /* double free refused */
    CHECK_RC(upwatch_string_free(NULL), UPWATCH_OK);
    char mine[] = "not from upwatch";
    CHECK_RC(upwatch_string_free(mine), UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "not a string from upwatch"));
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

static void test_bad_json_and_bad_specs_name_the_field(void) {
    upwatch_monitor *m = (upwatch_monitor *)1;
    char *err = NULL;

    CHECK_RC(upwatch_new("{not json", &m), UPWATCH_INVALID_JSON);
    CHECK(m == NULL);
    CHECK(contains(upwatch_last_error(), "config_json"));

    CHECK_RC(upwatch_new("{\"lease\": \"soon\", \"host_intervl\": \"5s\"}", &m), UPWATCH_INVALID_SPEC);
    CHECK_RC(upwatch_last_error_json(&err), UPWATCH_OK);
    CHECK(contains(err, "\"code\":\"spec\""));
    CHECK(contains(err, "\"path\":\"lease\""));
    CHECK(contains(err, "host_interval")); /* the misspelt key gets a suggestion */
    upwatch_string_free(err);

    CHECK_RC(upwatch_new("", &m), UPWATCH_OK);
    CHECK_RC(upwatch_register(m, "{\"name\": "), UPWATCH_INVALID_JSON);
    CHECK_RC(upwatch_register(m, "{\"name\": \"api\", \"kind\": \"http\", \"url\": \"not a url\"}"),
             UPWATCH_INVALID_SPEC);
    CHECK(contains(upwatch_last_error(), "url"));
    CHECK_RC(upwatch_register(m, "[{\"name\": \"a\", \"kind\": \"push\", \"interval\": \"1m\"},"
                                 " {\"name\": \"b\", \"kind\": \"http\", \"url\": \"nope\"}]"),
             UPWATCH_INVALID_SPEC);
    CHECK_RC(upwatch_last_error_json(&err), UPWATCH_OK);
    CHECK(contains(err, "\"path\":\"[1].url\""));
    upwatch_string_free(err);
    /* None of the list was registered. */
    char *status = NULL;
    CHECK_RC(upwatch_status(m, &status), UPWATCH_OK);
    CHECK(contains(status, "\"checks\":[]"));
    upwatch_string_free(status);

    char *out = NULL;
    CHECK_RC(upwatch_history(m, "{\"limit\": 0}", &out), UPWATCH_INVALID_ARGUMENT);
    CHECK_RC(upwatch_last_error_json(&err), UPWATCH_OK);
    CHECK(contains(err, "\"path\":\"limit\""));
    upwatch_string_free(err);
    CHECK_RC(upwatch_history(m, "[1,", &out), UPWATCH_INVALID_JSON);
    CHECK_RC(upwatch_run_now(m, "{\"a\":1}", &out), UPWATCH_INVALID_ARGUMENT);
    CHECK_RC(upwatch_uptime(m, NULL, "forever", &out), UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "window"));
    CHECK_RC(upwatch_on_event(m, "[\"check_exploded\"]", on_event, NULL, NULL),
             UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "check_exploded"));
    const char bad_utf8[] = {'{', '"', (char)0xff, '"', '}', 0};
    CHECK_RC(upwatch_register(m, bad_utf8), UPWATCH_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

static void test_every_call_against_a_loopback_server(void) {
    char config[256], spec[1024];
    snprintf(config, sizeof config, "{\"db\": \"%s/every.db\", \"host_interval\": \"off\"}", tmpdir);
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new(config, &m), UPWATCH_OK);
    snprintf(spec, sizeof spec,
             "[{\"name\": \"health\", \"service\": \"api\", \"kind\": \"http\", "
             "\"url\": \"http://127.0.0.1:%d/health\", \"interval\": \"1h\"},"
             " {\"name\": \"broken\", \"service\": \"api\", \"kind\": \"http\", "
             "\"url\": \"http://127.0.0.1:%d/status/500\", \"interval\": \"1h\"},"
             " {\"name\": \"payments\", \"kind\": \"push\", \"interval\": \"1h\"}]",
             server_port, server_port);
    CHECK_RC(upwatch_register(m, spec), UPWATCH_OK);
    CHECK_RC(upwatch_register(m, "{\"name\": \"beat\", \"kind\": \"push\", \"interval\": \"1h\"}"),
             UPWATCH_OK);

    int before = atomic_load(&server_requests);
    char *out = NULL;
    CHECK_RC(upwatch_run_now(m, "[\"health\", \"broken\"]", &out), UPWATCH_OK);
    CHECK(contains(out, "\"check\":\"health\""));
    CHECK(contains(out, "\"status\":\"up\""));
    CHECK(contains(out, "\"status\":\"down\""));
    upwatch_string_free(out);
    CHECK(atomic_load(&server_requests) - before == 2);
    CHECK_RC(upwatch_run_now(m, "\"health\"", NULL), UPWATCH_OK); /* result not wanted */
    CHECK_RC(upwatch_run_now(m, NULL, &out), UPWATCH_OK);          /* every check */
    CHECK(contains(out, "\"check\":\"broken\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_run_now(m, "[\"nope\"]", &out), UPWATCH_UNKNOWN_CHECK);

    CHECK_RC(upwatch_push(m, "beat", true, NULL, &out), UPWATCH_OK);
    CHECK(contains(out, "\"status\":\"up\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_push(m, "beat", false, "backup failed", &out), UPWATCH_OK);
    CHECK(contains(out, "backup failed"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_push(m, "health", true, NULL, &out), UPWATCH_NOT_A_PUSH_CHECK);
    CHECK_RC(upwatch_push(m, "nope", true, NULL, &out), UPWATCH_UNKNOWN_CHECK);
    CHECK_RC(upwatch_record(m, "payments", false, 812.5, "HTTP 502", &out), UPWATCH_OK);
    CHECK(contains(out, "\"duration_ms\":812.5"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_record(m, "payments", true, -1.0, NULL, &out), UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "duration_ms"));

    CHECK_RC(upwatch_pause(m, "health"), UPWATCH_OK);
    CHECK_RC(upwatch_resume(m, "health"), UPWATCH_OK);
    CHECK_RC(upwatch_pause(m, "nope"), UPWATCH_UNKNOWN_CHECK);
    CHECK_RC(upwatch_resume(m, "nope"), UPWATCH_UNKNOWN_CHECK);
    snprintf(spec, sizeof spec,
             "{\"name\": \"health\", \"service\": \"api\", \"kind\": \"http\", "
             "\"url\": \"http://127.0.0.1:%d/health\", \"interval\": \"2h\"}",
             server_port);
    CHECK_RC(upwatch_update(m, spec), UPWATCH_OK);
    CHECK_RC(upwatch_update(m, "{\"name\": \"ghost\", \"kind\": \"push\", \"interval\": \"1m\"}"),
             UPWATCH_UNKNOWN_CHECK);

    CHECK_RC(upwatch_status(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"check\":\"broken\""));
    CHECK(contains(out, "\"services\":["));
    upwatch_string_free(out);

    /* History is written in batches off the hot path: wait until the run shows. */
    for (int i = 0; i < 500; i++) {
        CHECK_RC(upwatch_history(m, "{\"check\": \"broken\", \"since\": \"1h\"}", &out), UPWATCH_OK);
        if (contains(out, "\"status\":\"down\"")) {
            break;
        }
        upwatch_string_free(out);
        out = NULL;
        sleep_ms(10);
    }
    CHECK(contains(out, "\"items\":["));
    CHECK(contains(out, "\"next_cursor\""));
    CHECK(contains(out, "\"status\":\"down\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_history(m, NULL, &out), UPWATCH_OK);
    upwatch_string_free(out);
    CHECK_RC(upwatch_status_changes(m, "{\"check\": [\"broken\", \"beat\"]}", &out), UPWATCH_OK);
    CHECK(contains(out, "\"items\":["));
    upwatch_string_free(out);
    CHECK_RC(upwatch_uptime(m, "{\"check\": \"health\"}", "24h", &out), UPWATCH_OK);
    CHECK(contains(out, "\"window\":\"24h\""));
    CHECK(contains(out, "\"check\":\"health\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_uptime(m, NULL, NULL, &out), UPWATCH_OK);
    CHECK(contains(out, "\"window\":\"30d\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_host(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"cpu"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_prometheus(m, &out), UPWATCH_OK);
    CHECK(contains(out, "broken"));
    CHECK(contains(out, "# TYPE"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_info(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"shared\":"));
    CHECK(contains(out, "\"started\":false"));
    upwatch_string_free(out);

    CHECK_RC(upwatch_start(m), UPWATCH_OK);
    CHECK_RC(upwatch_start(m), UPWATCH_OK);
    CHECK_RC(upwatch_info(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"started\":true"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_delete(m, "broken"), UPWATCH_OK);
    CHECK_RC(upwatch_delete(m, "broken"), UPWATCH_UNKNOWN_CHECK);

    CHECK_RC(upwatch_shutdown(m, 2000), UPWATCH_OK);
    CHECK_RC(upwatch_shutdown(m, 2000), UPWATCH_OK);
    CHECK_RC(upwatch_status(m, &out), UPWATCH_CLOSED);
    CHECK_RC(upwatch_push(m, "beat", true, NULL, &out), UPWATCH_CLOSED);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);

    /* The history was written before shutdown returned: a new monitor reads it back. */
    CHECK_RC(upwatch_new(config, &m), UPWATCH_OK);
    CHECK_RC(upwatch_history(m, "{\"check\": \"payments\"}", &out), UPWATCH_OK);
    CHECK(contains(out, "HTTP 502"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

static void test_a_config_file(void) {
    char path[128], toml_text[512];
    snprintf(path, sizeof path, "%s/upwatch.toml", tmpdir);
    FILE *f = fopen(path, "w");
    snprintf(toml_text, sizeof toml_text,
             "[monitor]\nhost_interval = \"off\"\n\n[[checks]]\nname = \"beat\"\nkind = \"push\"\n"
             "interval = \"1m\"\n");
    fputs(toml_text, f);
    fclose(f);
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new_from_file(path, &m), UPWATCH_OK);
    CHECK_RC(upwatch_push(m, "beat", true, NULL, NULL), UPWATCH_OK);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
    CHECK_RC(upwatch_new_from_file("/nonexistent/upwatch.toml", &m), UPWATCH_INVALID_SPEC);
    CHECK(m == NULL);
    CHECK_RC(upwatch_new_from_file(NULL, &m), UPWATCH_NULL_ARGUMENT);
}

struct counter {
    atomic_int calls;
    int pass;
};

static bool check_fn(void *user_data, char *message, size_t len) {
    struct counter *c = user_data;
    atomic_fetch_add(&c->calls, 1);
    snprintf(message, len, "%s from C", c->pass ? "fine" : "database unreachable");
    return c->pass;
}

static void test_callable_checks_call_c(void) {
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new("{\"host_interval\": \"off\"}", &m), UPWATCH_OK);
    struct counter good = {0, 1}, bad = {0, 0};
    CHECK_RC(upwatch_register_callable(m, "{\"name\": \"db\", \"kind\": \"callable\", \"interval\": \"1h\"}",
                                       check_fn, &good),
             UPWATCH_OK);
    CHECK_RC(upwatch_register_callable(m, "{\"name\": \"cache\", \"kind\": \"callable\", \"interval\": \"1h\"}",
                                       check_fn, &bad),
             UPWATCH_OK);
    char *out = NULL;
    CHECK_RC(upwatch_run_now(m, "[\"db\"]", &out), UPWATCH_OK);
    CHECK(contains(out, "\"status\":\"up\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_run_now(m, "[\"cache\"]", &out), UPWATCH_OK);
    CHECK(contains(out, "\"status\":\"down\""));
    CHECK(contains(out, "database unreachable from C"));
    upwatch_string_free(out);
    CHECK(atomic_load(&good.calls) == 1);
    CHECK(atomic_load(&bad.calls) >= 1);
    /* A callable check registered as plain JSON has no function. */
    CHECK_RC(upwatch_register(m, "{\"name\": \"orphan\", \"kind\": \"callable\", \"interval\": \"1h\"}"),
             UPWATCH_MISSING_CALLABLE);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

struct seen {
    atomic_int count;
    pthread_t registering_thread;
    atomic_int on_other_thread;
    char last[256];
};

static void on_event(const char *event_json, void *user_data) {
    struct seen *s = user_data;
    if (!pthread_equal(pthread_self(), s->registering_thread)) {
        atomic_store(&s->on_other_thread, 1);
    }
    snprintf(s->last, sizeof s->last, "%s", event_json);
    atomic_fetch_add(&s->count, 1);
}

static int wait_for(atomic_int *v, int at_least) {
    for (int i = 0; i < 1000 && atomic_load(v) < at_least; i++) {
        sleep_ms(10);
    }
    return atomic_load(v) >= at_least;
}

static void test_event_callbacks(void) {
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new("{\"host_interval\": \"off\", "
                         "\"checks\": [{\"name\": \"beat\", \"kind\": \"push\", \"interval\": \"1h\"}]}",
                         &m),
             UPWATCH_OK);
    struct seen failed = {0}, all = {0};
    failed.registering_thread = all.registering_thread = pthread_self();
    uint64_t id_failed = 0, id_all = 0;
    CHECK_RC(upwatch_on_event(m, "[\"check_failed\"]", on_event, &failed, &id_failed), UPWATCH_OK);
    CHECK_RC(upwatch_on_event(m, NULL, on_event, &all, &id_all), UPWATCH_OK);
    CHECK(id_failed != id_all);

    CHECK_RC(upwatch_push(m, "beat", true, NULL, NULL), UPWATCH_OK);
    CHECK_RC(upwatch_push(m, "beat", false, "late", NULL), UPWATCH_OK);
    CHECK(wait_for(&failed.count, 1));
    CHECK(wait_for(&all.count, 3)); /* succeeded, failed, status changes */
    CHECK(contains(failed.last, "\"event\":\"check_failed\""));
    CHECK(contains(failed.last, "late"));
    CHECK(atomic_load(&failed.on_other_thread) == 1);

    CHECK_RC(upwatch_off_event(m, id_failed), UPWATCH_OK);
    CHECK_RC(upwatch_off_event(m, id_failed), UPWATCH_INVALID_ARGUMENT);
    int before = atomic_load(&failed.count);
    int all_before = atomic_load(&all.count);
    CHECK_RC(upwatch_push(m, "beat", false, "again", NULL), UPWATCH_OK);
    CHECK(wait_for(&all.count, all_before + 1));
    CHECK(atomic_load(&failed.count) == before); /* removed: never called again */
    /* upwatch_free removes the remaining listener before it returns. */
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
    int after_free = atomic_load(&all.count);
    sleep_ms(100);
    CHECK(atomic_load(&all.count) == after_free);
}

static void test_the_event_queue(void) {
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new("{\"host_interval\": \"off\"}", &m), UPWATCH_OK);
    char *ev = (char *)1;
    CHECK_RC(upwatch_next_event(m, 0, &ev), UPWATCH_TIMEOUT);
    CHECK(ev == NULL);
    CHECK_RC(upwatch_next_event(m, 50, &ev), UPWATCH_TIMEOUT);
    CHECK_RC(upwatch_next_event(m, 0, NULL), UPWATCH_NULL_ARGUMENT);

    /* Queued since upwatch_new: nothing between then and the first read is lost. */
    CHECK_RC(upwatch_register(m, "{\"name\": \"beat\", \"kind\": \"push\", \"interval\": \"1h\"}"),
             UPWATCH_OK);
    CHECK_RC(upwatch_push(m, "beat", false, "queued", NULL), UPWATCH_OK);
    int registered = 0, failed = 0;
    while (upwatch_next_event(m, 2000, &ev) == UPWATCH_OK) {
        registered |= contains(ev, "\"event\":\"check_registered\"");
        failed |= contains(ev, "\"event\":\"check_failed\"") && contains(ev, "queued");
        upwatch_string_free(ev);
        if (registered && failed) {
            break;
        }
    }
    CHECK(registered);
    CHECK(failed);

    CHECK_RC(upwatch_shutdown(m, 1000), UPWATCH_OK);
    CHECK_RC(upwatch_next_event(m, -1, &ev), UPWATCH_CLOSED); /* never a hang */
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

/* ---------------------------------------------------------------- alerting */

/* The delivery id in upwatch_next_alert's JSON. */
static uint64_t delivery_id(const char *json) {
    const char *at = json ? strstr(json, "\"delivery_id\":") : NULL;
    return at ? strtoull(at + 14, NULL, 10) : 0;
}

/* Reads the event queue until an event contains both `a` and `b` (up to ~20 s). */
static int saw_event(upwatch_monitor *m, const char *a, const char *b) {
    char *ev = NULL;
    for (int i = 0; i < 20; i++) {
        int rc = upwatch_next_event(m, 1000, &ev);
        if (rc == UPWATCH_OK) {
            int found = contains(ev, a) && contains(ev, b);
            upwatch_string_free(ev);
            ev = NULL;
            if (found) {
                return 1;
            }
            i--; /* an event came: it does not count against the time */
        } else if (rc != UPWATCH_TIMEOUT) {
            return 0;
        }
    }
    return 0;
}

static void test_alerts_reach_a_program_that_polls(void) {
    char config[1024], spec[512];
    snprintf(config, sizeof config,
             "{\"host_interval\": \"off\", \"services\": [{\"name\": \"shop\"}],"
             " \"checks\": [{\"name\": \"api\", \"service\": \"shop\", \"kind\": \"http\","
             " \"url\": \"http://127.0.0.1:%d/toggle\", \"interval\": \"1h\"}],"
             " \"notifiers\": [{\"name\": \"from-config\", \"kind\": \"callable\"}]}",
             server_port);
    atomic_store(&toggle_up, 1);
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new(config, &m), UPWATCH_OK);
    CHECK_RC(upwatch_add_notifier(m, "{\"name\": \"pager\", \"kind\": \"callable\", \"timeout\": \"20s\","
                                     " \"backoff\": \"50ms\", \"max_attempts\": 5}"),
             UPWATCH_OK);
    snprintf(spec, sizeof spec,
             "{\"name\": \"hook\", \"kind\": \"webhook\", \"url\": \"http://127.0.0.1:%d/hook-7f3a\","
             " \"secret\": \"s3cret-value\", \"headers\": {\"Authorization\": \"Bearer header-secret\"},"
             " \"backoff\": \"50ms\"}",
             server_port);
    CHECK_RC(upwatch_add_notifier(m, spec), UPWATCH_OK);

    /* Errors name their field. */
    char *err = NULL;
    CHECK_RC(upwatch_add_alert(m, "{\"name\": \"x\", \"notify\": [\"nobody\"]}"), UPWATCH_INVALID_SPEC);
    CHECK_RC(upwatch_last_error_json(&err), UPWATCH_OK);
    CHECK(contains(err, "\"path\":\"notify[0]\""));
    upwatch_string_free(err);
    CHECK_RC(upwatch_add_notifier(m, "{\"name\": \"hook2\", \"kind\": \"webhook\"}"), UPWATCH_INVALID_SPEC);
    CHECK_RC(upwatch_add_notifier(m, "{\"name\": "), UPWATCH_INVALID_JSON);
    CHECK_RC(upwatch_mute(m, "api", "a while"), UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "duration"));

    CHECK_RC(upwatch_add_alert(m, "{\"name\": \"api-down\", \"checks\": [\"api\"], \"for\": \"0s\","
                                  " \"send_resolved\": true, \"notify\": [\"pager\", \"hook\", \"from-config\"]}"),
             UPWATCH_OK);

    /* The set-up, without the webhook's URL, secret or headers. */
    char *out = NULL;
    CHECK_RC(upwatch_alerting(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"name\":\"pager\""));
    CHECK(contains(out, "\"name\":\"from-config\",\"kind\":\"callable\",\"function\":true"));
    CHECK(contains(out, "\"name\":\"api-down\""));
    CHECK(!contains(out, "s3cret-value"));
    CHECK(!contains(out, "header-secret"));
    CHECK(!contains(out, "hook-7f3a"));
    upwatch_string_free(out);

    CHECK_RC(upwatch_start(m), UPWATCH_OK);
    CHECK_RC(upwatch_run_now(m, "\"api\"", &out), UPWATCH_OK);
    CHECK(contains(out, "\"status\":\"up\""));
    upwatch_string_free(out);
    atomic_store(&toggle_up, 0);
    CHECK_RC(upwatch_run_now(m, "\"api\"", &out), UPWATCH_OK);
    CHECK(contains(out, "\"status\":\"down\""));
    upwatch_string_free(out);

    /* The first attempt fails (the program says so), the retry is answered ok. */
    char *alert = NULL;
    CHECK_RC(upwatch_next_alert(m, "pager", 20000, &alert), UPWATCH_OK);
    CHECK(contains(alert, "\"notifier\":\"pager\""));
    CHECK(contains(alert, "\"rule\":\"api-down\""));
    CHECK(contains(alert, "\"check\":\"api\""));
    CHECK(contains(alert, "\"kind\":\"down\""));
    uint64_t first = delivery_id(alert);
    CHECK(first > 0);
    upwatch_string_free(alert);
    alert = NULL;
    CHECK_RC(upwatch_alert_done(m, first, false, "pager offline"), UPWATCH_OK);
    CHECK_RC(upwatch_alert_done(m, first, true, NULL), UPWATCH_INVALID_ARGUMENT); /* answered once */
    CHECK(contains(upwatch_last_error(), "not waiting"));
    CHECK(saw_event(m, "\"event\":\"alert_delivery_failed\"", "pager offline"));
    CHECK_RC(upwatch_next_alert(m, "pager", 20000, &alert), UPWATCH_OK);
    CHECK(contains(alert, "\"kind\":\"down\""));
    uint64_t retry = delivery_id(alert);
    CHECK(retry != first && retry > 0);
    upwatch_string_free(alert);
    alert = NULL;
    CHECK_RC(upwatch_alert_done(m, retry, true, NULL), UPWATCH_OK);
    CHECK(saw_event(m, "\"event\":\"alert_delivered\"", "\"notifier\":\"pager\",\"attempts\":2"));

    /* The config's callable notifier is served the same way. */
    CHECK_RC(upwatch_next_alert(m, "from-config", 20000, &alert), UPWATCH_OK);
    CHECK(contains(alert, "\"notifier\":\"from-config\""));
    CHECK_RC(upwatch_alert_done(m, delivery_id(alert), true, NULL), UPWATCH_OK);
    upwatch_string_free(alert);
    alert = NULL;

    /* The webhook received the alert_fired event, signed. */
    for (int i = 0; i < 2000 && atomic_load(&hook_posts) == 0; i++) {
        sleep_ms(10);
    }
    pthread_mutex_lock(&hook_lock);
    CHECK(contains(hook_request, "\"event\":\"alert_fired\""));
    CHECK(contains(hook_request, "\"check\":\"api\""));
    CHECK(strcasestr(hook_request, "\r\nx-upwatch-signature: sha256=") != NULL);
    CHECK(strcasestr(hook_request, "\r\nauthorization: Bearer header-secret") != NULL);
    pthread_mutex_unlock(&hook_lock);

    CHECK_RC(upwatch_status(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"attempts_failed\":1,"));
    CHECK(contains(out, "\"error\":\"function failed: pager offline\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_pending_alerts(m, &out), UPWATCH_OK);
    CHECK(contains(out, "[")); /* a JSON array (the webhook's may still be on its way) */
    upwatch_string_free(out);

    /* Back up: the resolved alerts, then one resolved incident with its duration. */
    atomic_store(&toggle_up, 1);
    CHECK_RC(upwatch_run_now(m, "\"api\"", NULL), UPWATCH_OK);
    int resolved = 0;
    for (int i = 0; i < 4 && resolved < 2; i++) {
        if (upwatch_next_alert(m, NULL, 20000, &alert) != UPWATCH_OK) {
            break;
        }
        resolved += contains(alert, "\"kind\":\"resolved\"");
        CHECK_RC(upwatch_alert_done(m, delivery_id(alert), true, NULL), UPWATCH_OK);
        upwatch_string_free(alert);
        alert = NULL;
    }
    CHECK(resolved == 2); /* pager and from-config */
    for (int i = 0; i < 500; i++) {
        CHECK_RC(upwatch_incidents(m, "{\"check\": \"api\"}", &out), UPWATCH_OK);
        if (contains(out, "\"open\":false")) {
            break;
        }
        upwatch_string_free(out);
        out = NULL;
        sleep_ms(20);
    }
    CHECK(contains(out, "\"check\":\"api\""));
    CHECK(contains(out, "\"open\":false"));
    CHECK(contains(out, "\"duration_ms\":"));
    CHECK(contains(out, "\"next_cursor\":null"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_incident_stats(m, "{\"check\": \"api\"}", "1h", &out), UPWATCH_OK);
    CHECK(contains(out, "\"check\":\"api\",\"incidents\":1,"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_incident_stats(m, NULL, "forever", &out), UPWATCH_INVALID_ARGUMENT);
    CHECK(contains(upwatch_last_error(), "window"));
    CHECK_RC(upwatch_incidents(m, "{\"limit\": 0}", &out), UPWATCH_INVALID_ARGUMENT);

    CHECK_RC(upwatch_readiness(m, NULL, &out), UPWATCH_OK);
    CHECK(contains(out, "{\"ready\":true,\"services\":{\"shop\":\"up\"}}"));
    upwatch_string_free(out);
    CHECK_RC(upwatch_readiness(m, "[\"shop\", \"ghost\"]", &out), UPWATCH_OK);
    CHECK(contains(out, "\"ghost\":\"unknown\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_readiness(m, "{\"a\": 1}", &out), UPWATCH_INVALID_ARGUMENT);

    bool removed = false;
    CHECK_RC(upwatch_remove_alert(m, "api-down", &removed), UPWATCH_OK);
    CHECK(removed);
    CHECK_RC(upwatch_remove_alert(m, "api-down", &removed), UPWATCH_OK);
    CHECK(!removed);
    CHECK_RC(upwatch_remove_notifier(m, "hook", &removed), UPWATCH_OK);
    CHECK(removed);
    CHECK_RC(upwatch_remove_notifier(m, "hook", NULL), UPWATCH_OK);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

struct blocked_read {
    upwatch_monitor *m;
    int rc;
};

static void *read_alert_forever(void *arg) {
    struct blocked_read *r = arg;
    char *out = NULL;
    r->rc = upwatch_next_alert(r->m, NULL, -1, &out);
    upwatch_string_free(out);
    return NULL;
}

static void test_unanswered_alerts_time_out_and_mutes_hold_them(void) {
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new("{\"host_interval\": \"off\","
                         " \"checks\": [{\"name\": \"beat\", \"kind\": \"push\", \"interval\": \"1h\"},"
                         "              {\"name\": \"quiet\", \"kind\": \"push\", \"interval\": \"1h\"}]}",
                         &m),
             UPWATCH_OK);
    CHECK_RC(upwatch_add_notifier(m, "{\"name\": \"slow\", \"kind\": \"callable\", \"timeout\": \"300ms\","
                                     " \"max_attempts\": 1}"),
             UPWATCH_OK);
    CHECK_RC(upwatch_add_alert(m, "{\"name\": \"any\", \"for\": \"0s\", \"notify\": [\"slow\"]}"), UPWATCH_OK);
    CHECK_RC(upwatch_start(m), UPWATCH_OK);
    char *out = NULL;
    CHECK_RC(upwatch_next_alert(m, NULL, 0, &out), UPWATCH_TIMEOUT);
    CHECK(out == NULL);

    /* Taken but never answered: the notifier's timeout makes it a failed attempt. */
    CHECK_RC(upwatch_push(m, "beat", false, "missed", NULL), UPWATCH_OK);
    char *alert = NULL;
    CHECK_RC(upwatch_next_alert(m, "slow", 20000, &alert), UPWATCH_OK);
    uint64_t id = delivery_id(alert);
    upwatch_string_free(alert);
    alert = NULL;
    CHECK(saw_event(m, "\"event\":\"alert_delivery_failed\"", "\"error\":\"timeout\",\"gave_up\":true"));
    CHECK_RC(upwatch_alert_done(m, id, true, NULL), UPWATCH_INVALID_ARGUMENT); /* too late */

    /* A muted check's alert is held back: nothing to read. */
    CHECK_RC(upwatch_mute(m, "quiet", "30m"), UPWATCH_OK);
    CHECK_RC(upwatch_alerting(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"mutes\":[{\"target\":\"quiet\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_push(m, "quiet", false, "muted", NULL), UPWATCH_OK);
    int held = 0;
    for (int i = 0; i < 500 && !held; i++) {
        CHECK_RC(upwatch_status(m, &out), UPWATCH_OK);
        held = contains(out, "\"held\":1,");
        upwatch_string_free(out);
        out = NULL;
        sleep_ms(10);
    }
    CHECK(held);
    CHECK_RC(upwatch_next_alert(m, NULL, 300, &alert), UPWATCH_TIMEOUT);
    CHECK_RC(upwatch_unmute(m, "quiet"), UPWATCH_OK);
    CHECK_RC(upwatch_alerting(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"mutes\":[]"));
    upwatch_string_free(out);

    /* Maintenance windows: added, shown with "active", removed. */
    CHECK_RC(upwatch_add_maintenance(m, "{\"name\": \"always\", \"checks\": [\"beat\"],"
                                        " \"from\": \"2000-01-01T00:00:00Z\", \"to\": \"2999-01-01T00:00:00Z\"}"),
             UPWATCH_OK);
    CHECK_RC(upwatch_add_maintenance(m, "{\"name\": \"nightly\", \"weekdays\": [\"sun\"], \"start\": \"02:00\","
                                        " \"end\": \"02:30\", \"timezone\": \"Europe/Paris\"}"),
             UPWATCH_OK);
    CHECK_RC(upwatch_add_maintenance(m, "{\"name\": \"bad\", \"weekdays\": [\"someday\"]}"), UPWATCH_INVALID_SPEC);
    CHECK_RC(upwatch_alerting(m, &out), UPWATCH_OK);
    CHECK(contains(out, "\"active\":true"));
    CHECK(contains(out, "\"timezone\":\"Europe/Paris\""));
    upwatch_string_free(out);
    bool removed = false;
    CHECK_RC(upwatch_remove_maintenance(m, "always", &removed), UPWATCH_OK);
    CHECK(removed);

    /* A reader blocked without a timeout wakes up when the monitor shuts down. */
    struct blocked_read r = {m, -1};
    pthread_t t;
    pthread_create(&t, NULL, read_alert_forever, &r);
    sleep_ms(100);
    CHECK_RC(upwatch_shutdown(m, 1000), UPWATCH_OK);
    pthread_join(t, NULL);
    CHECK(r.rc == UPWATCH_CLOSED);
    CHECK_RC(upwatch_next_alert(m, NULL, -1, &alert), UPWATCH_CLOSED);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

static void test_a_panic_stays_inside(void) {
    CHECK_RC(upwatch_test_panic(), UPWATCH_PANIC);
    CHECK(contains(upwatch_last_error(), "upwatch_test_panic was called"));
    char *err = NULL;
    CHECK_RC(upwatch_last_error_json(&err), UPWATCH_OK);
    CHECK(contains(err, "\"code\":\"panic\""));
    CHECK(contains(err, "\"result\":15"));
    upwatch_string_free(err);
    /* The library goes on working. */
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new(NULL, &m), UPWATCH_OK);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

static void *fail_on_this_thread(void *arg) {
    const char **seen = arg;
    seen[0] = upwatch_last_error(); /* nothing failed on this thread yet */
    upwatch_status(NULL, NULL);
    seen[1] = upwatch_last_error() ? "set" : NULL;
    return NULL;
}

static void test_the_last_error_is_per_thread(void) {
    CHECK_RC(upwatch_test_panic(), UPWATCH_PANIC);
    const char *seen[2] = {"x", NULL};
    pthread_t t;
    pthread_create(&t, NULL, fail_on_this_thread, seen);
    pthread_join(t, NULL);
    CHECK(seen[0] == NULL);
    CHECK(seen[1] != NULL);
    /* This thread's error is still its own. */
    CHECK(contains(upwatch_last_error(), "upwatch_test_panic"));
    /* A successful call leaves it alone. */
    upwatch_monitor *m = NULL;
    CHECK_RC(upwatch_new(NULL, &m), UPWATCH_OK);
    CHECK(contains(upwatch_last_error(), "upwatch_test_panic"));
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

/* Waits for a child for up to `seconds`; kills it when it hangs. Returns its exit code, or -1. */
static int wait_child(pid_t pid, int seconds) {
    for (int i = 0; i < seconds * 50; i++) {
        int status = 0;
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "  child %d hung: killed\n", (int)pid);
    return -1;
}

static void test_a_forked_child_uses_the_handle(void) {
    upwatch_monitor *m = NULL;
    char spec[512];
    snprintf(spec, sizeof spec,
             "{\"host_interval\": \"off\", \"checks\": ["
             "{\"name\": \"beat\", \"kind\": \"push\", \"interval\": \"1h\"},"
             "{\"name\": \"health\", \"kind\": \"http\", \"url\": \"http://127.0.0.1:%d/health\", "
             "\"interval\": \"1h\"}]}",
             server_port);
    CHECK_RC(upwatch_new(spec, &m), UPWATCH_OK);
    CHECK_RC(upwatch_start(m), UPWATCH_OK);
    CHECK_RC(upwatch_push(m, "beat", true, NULL, NULL), UPWATCH_OK);

    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* The child: the runtime is rebuilt on first use, with the same checks. */
        int code = 0;
        char *out = NULL;
        if (upwatch_push(m, "beat", false, "from the child", &out) != UPWATCH_OK ||
            !contains(out, "\"status\":\"down\"")) {
            code |= 1;
        }
        upwatch_string_free(out);
        out = NULL;
        if (upwatch_run_now(m, "[\"health\"]", &out) != UPWATCH_OK || !contains(out, "\"status\":\"up\"")) {
            code |= 2;
        }
        upwatch_string_free(out);
        out = NULL;
        if (upwatch_status(m, &out) != UPWATCH_OK || !contains(out, "from the child")) {
            code |= 4;
        }
        upwatch_string_free(out);
        out = NULL;
        /* The queue follows the child's own engine. */
        if (upwatch_push(m, "beat", true, NULL, NULL) != UPWATCH_OK) {
            code |= 8;
        }
        int got = 0;
        while (!got && upwatch_next_event(m, 5000, &out) == UPWATCH_OK) {
            got = contains(out, "check_succeeded");
            upwatch_string_free(out);
            out = NULL;
        }
        if (!got) {
            code |= 16;
        }
        if (upwatch_free(m) != UPWATCH_OK) {
            code |= 32;
        }
        child_exit(code);
    }
    int code = wait_child(pid, 60);
    if (code != 0) {
        fprintf(stderr, "  child exit code %d\n", code);
    }
    CHECK(code == 0);

    /* A child that exits without touching the handle, and one that only frees it. */
    pid = fork();
    if (pid == 0) {
        child_exit(upwatch_free(m) == UPWATCH_OK ? 0 : 1);
    }
    CHECK(wait_child(pid, 60) == 0);

    /* The parent's engine is untouched by the children. */
    char *out = NULL;
    CHECK_RC(upwatch_status(m, &out), UPWATCH_OK);
    CHECK(!contains(out, "from the child"));
    CHECK(contains(out, "\"status\":\"up\""));
    upwatch_string_free(out);
    CHECK_RC(upwatch_free(m), UPWATCH_OK);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/upwatch-c-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 100;
    }
    server_start();

    run("null and freed handles are refused", test_null_and_freed_handles_are_refused);
    run("strings are freed only by the library", test_strings_are_freed_only_by_the_library);
    run("bad JSON and bad specs name the field", test_bad_json_and_bad_specs_name_the_field);
    run("every call against a loopback server", test_every_call_against_a_loopback_server);
    run("a config file", test_a_config_file);
    run("callable checks call C", test_callable_checks_call_c);
    run("event callbacks", test_event_callbacks);
    run("the event queue", test_the_event_queue);
    run("alerts reach a program that polls", test_alerts_reach_a_program_that_polls);
    run("unanswered alerts time out, mutes hold them", test_unanswered_alerts_time_out_and_mutes_hold_them);
    run("a panic stays inside", test_a_panic_stays_inside);
    run("the last error is per thread", test_the_last_error_is_per_thread);
    run("a forked child uses the handle", test_a_forked_child_uses_the_handle);

    size_t outstanding = 1;
    failures_in_test = 0;
    CHECK_RC(upwatch_strings_outstanding(&outstanding), UPWATCH_OK);
    CHECK_RC(upwatch_strings_outstanding(NULL), UPWATCH_NULL_ARGUMENT);
    if (outstanding != 0 || failures_in_test) {
        printf("FAIL every string handed out was freed (%zu outstanding)\n", outstanding);
        tests_failed++;
    } else {
        printf("ok   every string handed out was freed\n");
        tests_passed++;
    }

    server_stop();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("c tests: %d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed > 100 ? 100 : tests_failed;
}

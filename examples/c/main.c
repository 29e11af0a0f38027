/*
 * A C program monitoring a web service with libupwatch: it registers checks and an alert
 * rule, runs the checks once, prints each result, the status and the alert as JSON, and
 * exits 0 when the health check is up, the broken endpoint is down and its alert came.
 *
 *   cc $(pkg-config --cflags upwatch) main.c $(pkg-config --libs upwatch) -o upwatch-example
 *   ./upwatch-example http://127.0.0.1:8080        # a server with /health and /status/500
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <upwatch.h>

/* Prints the failing call and the library's message, and exits. */
static void must(upwatch_result rc, const char *what) {
    if (rc != UPWATCH_OK) {
        const char *message = upwatch_last_error(); /* owned by the library: not freed */
        fprintf(stderr, "%s failed (%d): %s\n", what, (int)rc, message ? message : "?");
        exit(1);
    }
}

/* A check written in C: the application's own idea of healthy. */
static bool queue_is_short(void *user_data, char *message, size_t len) {
    int depth = *(int *)user_data;
    snprintf(message, len, "%d jobs waiting", depth);
    return depth < 100;
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
    upwatch_monitor *m = NULL;
    must(upwatch_new("{\"host_interval\": \"off\"}", &m), "upwatch_new");

    char specs[1024];
    snprintf(specs, sizeof specs,
             "[{\"name\": \"health\", \"service\": \"web\", \"kind\": \"http\", \"url\": \"%s/health\","
             "  \"interval\": \"30s\", \"expect\": {\"status\": [200]}},"
             " {\"name\": \"broken\", \"service\": \"web\", \"kind\": \"http\", \"url\": \"%s/status/500\","
             "  \"interval\": \"30s\"},"
             " {\"name\": \"nightly-backup\", \"kind\": \"push\", \"interval\": \"1d\"}]",
             base, base);
    must(upwatch_register(m, specs), "upwatch_register");
    int depth = 7;
    must(upwatch_register_callable(m, "{\"name\": \"queue\", \"kind\": \"callable\", \"interval\": \"1m\"}",
                                   queue_is_short, &depth),
         "upwatch_register_callable");
    must(upwatch_push(m, "nightly-backup", true, "4.2 GiB written", NULL), "upwatch_push");

    /* Alerts for the web service's checks go to this program: a "callable" notifier is
     * served by polling (upwatch_next_alert), on the program's own thread. */
    must(upwatch_add_notifier(m, "{\"name\": \"console\", \"kind\": \"callable\", \"timeout\": \"30s\"}"),
         "upwatch_add_notifier");
    must(upwatch_add_alert(m, "{\"name\": \"web down\", \"services\": [\"web\"], \"for\": \"0s\","
                              " \"notify\": [\"console\"]}"),
         "upwatch_add_alert");
    must(upwatch_start(m), "upwatch_start");

    char *results = NULL;
    must(upwatch_run_now(m, NULL, &results), "upwatch_run_now");
    printf("results: %s\n", results);
    upwatch_string_free(results);

    char *status = NULL;
    must(upwatch_status(m, &status), "upwatch_status");
    printf("status: %s\n", status);
    int ok = strstr(status, "\"check\":\"health\"") != NULL;
    upwatch_string_free(status);

    /* Each check again on its own: health is up, broken is down. */
    char *one = NULL;
    must(upwatch_run_now(m, "\"health\"", &one), "upwatch_run_now health");
    ok = ok && strstr(one, "\"status\":\"up\"") != NULL;
    upwatch_string_free(one);
    must(upwatch_run_now(m, "\"broken\"", &one), "upwatch_run_now broken");
    ok = ok && strstr(one, "\"status\":\"down\"") != NULL;
    upwatch_string_free(one);

    /* The alert about the broken endpoint: print it, then say it was delivered. */
    char *alert = NULL;
    must(upwatch_next_alert(m, "console", 10000, &alert), "upwatch_next_alert");
    printf("alert: %s\n", alert);
    ok = ok && strstr(alert, "\"check\":\"broken\"") != NULL;
    const char *id = strstr(alert, "\"delivery_id\":");
    must(upwatch_alert_done(m, id ? strtoull(id + 14, NULL, 10) : 0, true, NULL), "upwatch_alert_done");
    upwatch_string_free(alert);

    must(upwatch_free(m), "upwatch_free");
    printf("example: %s\n", ok ? "health up, broken down, alerted" : "unexpected results");
    return ok ? 0 : 1;
}

/*
 * Cost per call of upwatch_status (1,000 push checks, each with a result) and upwatch_host
 * from C, string free included. Prints lines like the Rust bench:
 *   c/status_1000_checks: 123.4 us/call
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "upwatch.h"

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

#define MUST(call)                                                                          \
    do {                                                                                    \
        if ((call) != UPWATCH_OK) {                                                         \
            fprintf(stderr, "%s: %s\n", #call, upwatch_last_error());                       \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 2000;
    upwatch_monitor *m = NULL;
    MUST(upwatch_new("{\"host_interval\": \"off\"}", &m));
    size_t cap = 1000 * 80 + 16;
    char *specs = malloc(cap);
    size_t len = 0;
    len += snprintf(specs + len, cap - len, "[");
    for (int i = 0; i < 1000; i++) {
        len += snprintf(specs + len, cap - len, "%s{\"name\":\"push-%04d\",\"kind\":\"push\",\"interval\":\"1h\"}",
                        i ? "," : "", i);
    }
    snprintf(specs + len, cap - len, "]");
    MUST(upwatch_register(m, specs));
    free(specs);
    for (int i = 0; i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "push-%04d", i);
        MUST(upwatch_push(m, name, true, NULL, NULL));
    }
    char *out = NULL;
    MUST(upwatch_status(m, &out));
    size_t bytes = strlen(out);
    upwatch_string_free(out);
    for (int i = 0; i < calls / 10; i++) { /* warm up */
        MUST(upwatch_status(m, &out));
        upwatch_string_free(out);
    }
    double t0 = now_us();
    for (int i = 0; i < calls; i++) {
        MUST(upwatch_status(m, &out));
        upwatch_string_free(out);
    }
    double per = (now_us() - t0) / calls;
    printf("c/status_1000_checks: %.1f us/call (%zu bytes of JSON)\n", per, bytes);
    t0 = now_us();
    int host_calls = calls / 4;
    for (int i = 0; i < host_calls; i++) {
        MUST(upwatch_host(m, &out));
        upwatch_string_free(out);
    }
    printf("c/host: %.1f us/call\n", (now_us() - t0) / host_calls);
    upwatch_free(m);
    return 0;
}

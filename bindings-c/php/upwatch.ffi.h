// Generated from include/upwatch.h by scripts/flatten-header.py for PHP FFI::cdef; do not edit.
typedef enum {
  UPWATCH_OK = 0,
  UPWATCH_NULL_ARGUMENT = 1,
  UPWATCH_INVALID_HANDLE = 2,
  UPWATCH_INVALID_JSON = 3,
  UPWATCH_INVALID_SPEC = 4,
  UPWATCH_INVALID_ARGUMENT = 5,
  UPWATCH_UNKNOWN_CHECK = 6,
  UPWATCH_DUPLICATE_CHECK = 7,
  UPWATCH_NOT_A_PUSH_CHECK = 8,
  UPWATCH_MISSING_CALLABLE = 9,
  UPWATCH_STORE = 10,
  UPWATCH_FORWARDED = 11,
  UPWATCH_HOST = 12,
  UPWATCH_CLOSED = 13,
  UPWATCH_TIMEOUT = 14,
  UPWATCH_PANIC = 15,
  UPWATCH_RUNTIME = 16,
} upwatch_result;
typedef struct upwatch_monitor upwatch_monitor;
typedef bool (*upwatch_check_fn)(void *user_data, char *message, size_t message_len);
typedef void (*upwatch_event_callback)(const char *event_json, void *user_data);
const char *upwatch_last_error(void);
upwatch_result upwatch_last_error_json(char **out_json);
upwatch_result upwatch_string_free(char *s);
upwatch_result upwatch_strings_outstanding(size_t *out_count);
upwatch_result upwatch_test_panic(void);
upwatch_result upwatch_new(const char *config_json, upwatch_monitor **out);
upwatch_result upwatch_new_from_file(const char *path, upwatch_monitor **out);
upwatch_result upwatch_start(upwatch_monitor *m);
upwatch_result upwatch_shutdown(upwatch_monitor *m, uint32_t grace_ms);
upwatch_result upwatch_free(upwatch_monitor *m);
upwatch_result upwatch_register(upwatch_monitor *m, const char *spec_json);
upwatch_result upwatch_register_callable(upwatch_monitor *m, const char *spec_json, upwatch_check_fn check, void *user_data);
upwatch_result upwatch_update(upwatch_monitor *m, const char *spec_json);
upwatch_result upwatch_delete(upwatch_monitor *m, const char *name);
upwatch_result upwatch_pause(upwatch_monitor *m, const char *name);
upwatch_result upwatch_resume(upwatch_monitor *m, const char *name);
upwatch_result upwatch_run_now(upwatch_monitor *m, const char *names_json, char **out_json);
upwatch_result upwatch_push(upwatch_monitor *m, const char *name, bool ok, const char *message, char **out_json);
upwatch_result upwatch_record(upwatch_monitor *m, const char *name, bool ok, double duration_ms, const char *message, char **out_json);
upwatch_result upwatch_status(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_history(upwatch_monitor *m, const char *query_json, char **out_json);
upwatch_result upwatch_status_changes(upwatch_monitor *m, const char *query_json, char **out_json);
upwatch_result upwatch_uptime(upwatch_monitor *m, const char *query_json, const char *window, char **out_json);
upwatch_result upwatch_host(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_prometheus(upwatch_monitor *m, char **out_text);
upwatch_result upwatch_info(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_add_notifier(upwatch_monitor *m, const char *spec_json);
upwatch_result upwatch_remove_notifier(upwatch_monitor *m, const char *name, bool *out_removed);
upwatch_result upwatch_add_alert(upwatch_monitor *m, const char *rule_json);
upwatch_result upwatch_remove_alert(upwatch_monitor *m, const char *name, bool *out_removed);
upwatch_result upwatch_add_maintenance(upwatch_monitor *m, const char *window_json);
upwatch_result upwatch_remove_maintenance(upwatch_monitor *m, const char *name, bool *out_removed);
upwatch_result upwatch_mute(upwatch_monitor *m, const char *target, const char *duration);
upwatch_result upwatch_unmute(upwatch_monitor *m, const char *target);
upwatch_result upwatch_alerting(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_alerts_report(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_pending_alerts(upwatch_monitor *m, char **out_json);
upwatch_result upwatch_incidents(upwatch_monitor *m, const char *query_json, char **out_json);
upwatch_result upwatch_incident_stats(upwatch_monitor *m, const char *query_json, const char *window, char **out_json);
upwatch_result upwatch_readiness(upwatch_monitor *m, const char *services_json, char **out_json);
upwatch_result upwatch_next_alert(upwatch_monitor *m, const char *notifier, int64_t timeout_ms, char **out_json);
upwatch_result upwatch_alert_done(upwatch_monitor *m, uint64_t delivery_id, bool ok, const char *error);
upwatch_result upwatch_on_event(upwatch_monitor *m, const char *kinds_json, upwatch_event_callback callback, void *user_data, uint64_t *out_id);
upwatch_result upwatch_off_event(upwatch_monitor *m, uint64_t id);
upwatch_result upwatch_next_event(upwatch_monitor *m, int64_t timeout_ms, char **out_json);

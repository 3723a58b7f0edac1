/* Bihuan from C (docs/c-api.md): open an engine in a new directory, deploy a small
 * definition, start an instance, send it an event, let a timer fire on the virtual clock,
 * and print its history. Exits 0 when every call succeeded.
 *
 *   bihuan-c-example [DATA_DIR]   (default: a new directory under /tmp) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bihuan.h>

static const char* kDefinition =
    "{\"id\": \"sample.check\", \"version\": 1, \"initial\": \"sampled\", \"states\": {"
    " \"sampled\": {\"on\": {\"test\": {\"roles\": [\"lab\"], \"target\": \"tested\"}}},"
    " \"tested\": {\"timers\": [{\"id\": \"release\", \"after\": \"PT24H\", \"target\": \"released\"}]},"
    " \"released\": {\"type\": \"final\", \"outcome\": \"released\"}}}";

/* Prints the error object of a failed call and exits. */
static void check(int status, const char* what, char* error) {
  if (status == BIHUAN_OK) return;
  fprintf(stderr, "%s failed (%s): %s\n", what, bihuan_status_name(status), error ? error : "");
  bihuan_free(error);
  exit(1);
}

int main(int argc, char** argv) {
  char dir[256] = "/tmp/bihuan-c-example-XXXXXX";
  char options[512], request[256], id[17] = {0};
  bihuan_engine* engine = NULL;
  char *result = NULL, *error = NULL;
  uint64_t fired = 0;
  const char* at;

  if (argc > 1)
    snprintf(dir, sizeof dir, "%s", argv[1]);
  else if (!mkdtemp(dir))
    return 1;
  snprintf(options, sizeof options,
           "{\"dataDir\": \"%s\", \"virtualClock\": \"2024-03-01T08:00:00Z\"}", dir);
  /* The ABI version this program was compiled with: the library checks it. */
  check(bihuan_open(options, BIHUAN_ABI_VERSION, &engine, &error), "open", error);

  check(bihuan_deploy(engine, kDefinition, "sample.check.json", &result, &error), "deploy", error);
  printf("deployed  %s\n", result);
  bihuan_free(result);

  check(bihuan_start(engine, "{\"definition\": \"sample.check\", \"businessKey\": \"S-001\","
                             " \"data\": {\"product\": \"milk\"}}",
                     &result, &error),
        "start", error);
  at = strstr(result, "\"id\":\"");
  if (at) memcpy(id, at + 6, 16);
  printf("started   %s\n", id);
  bihuan_free(result);

  snprintf(request, sizeof request,
           "{\"instance\": \"%s\", \"event\": \"test\", \"actor\": {\"id\": \"lab.1\", \"roles\": [\"lab\"]}}",
           id);
  check(bihuan_send(engine, request, &result, &error), "send", error);
  bihuan_free(result);

  check(bihuan_clock_advance(engine, 24 * 3600 * 1000, &fired, &error), "advance", error);
  printf("timers fired: %llu\n", (unsigned long long)fired);

  snprintf(request, sizeof request, "{\"instance\": \"%s\"}", id);
  check(bihuan_history(engine, request, &result, &error), "history", error);
  printf("history   %s\n", result);
  bihuan_free(result);

  check(bihuan_close(engine, &error), "close", error);
  bihuan_release(engine);
  return 0;
}

/* bihuan.h compiled as C99 (-pedantic -Werror): a program that opens an engine in the
 * directory given, deploys, starts, sends, reads the history, and checks the misuse
 * answers a C caller sees. Exits 0 when every check holds. */
#include <stdio.h>
#include <string.h>

#include "bihuan.h"

static int failures = 0;

static void check(int ok, const char* what, const char* error) {
  if (!ok) {
    fprintf(stderr, "FAILED: %s %s\n", what, error ? error : "");
    ++failures;
  }
}

static const char* definition =
    "{\"id\": \"c.demo\", \"version\": 1, \"initial\": \"open\", \"states\": {"
    "\"open\": {\"on\": {\"close\": {\"target\": \"closed\"}}},"
    "\"closed\": {\"type\": \"final\", \"outcome\": \"done\"}}}";

int main(int argc, char** argv) {
  bihuan_engine* engine = NULL;
  char* error = NULL;
  char* result = NULL;
  char options[1024];
  char request[256];
  int status;
  const char* id_at;
  char id[17];
  if (argc != 2) return 2;
  snprintf(options, sizeof options, "{\"dataDir\": \"%s\", \"durable\": false}", argv[1]);
  status = bihuan_open(options, BIHUAN_ABI_VERSION, &engine, &error);
  check(status == BIHUAN_OK && engine != NULL, "open", error);
  bihuan_free(error);
  if (status != BIHUAN_OK) return 1;

  status = bihuan_deploy(engine, definition, "c.demo.json", &result, &error);
  check(status == BIHUAN_OK && strstr(result, "\"c.demo\"") != NULL, "deploy", error);
  bihuan_free(result);
  bihuan_free(error);

  status = bihuan_start(engine, "{\"definition\": \"c.demo\"}", &result, &error);
  check(status == BIHUAN_OK && error == NULL, "start", error);
  id_at = result ? strstr(result, "\"id\":\"") : NULL;
  check(id_at != NULL, "start result has an id", result);
  if (id_at) {
    memcpy(id, id_at + 6, 16);
    id[16] = '\0';
  }
  bihuan_free(result);
  bihuan_free(error);
  if (failures) return 1;

  snprintf(request, sizeof request, "{\"instance\": \"%s\", \"event\": \"close\"}", id);
  status = bihuan_send(engine, request, &result, &error);
  check(status == BIHUAN_OK && strstr(result, "\"completed\"") != NULL, "send", error);
  bihuan_free(result);
  bihuan_free(error);

  snprintf(request, sizeof request, "{\"instance\": \"%s\"}", id);
  status = bihuan_history(engine, request, &result, &error);
  check(status == BIHUAN_OK && strstr(result, "\"close\"") != NULL, "history", error);
  if (result) printf("%s\n", result);
  bihuan_free(result);
  bihuan_free(error);

  status = bihuan_start(engine, "{\"definition\": ", &result, &error);
  check(status == BIHUAN_EINVAL && result == NULL && strstr(error, "invalid-json") != NULL,
        "malformed JSON", error);
  bihuan_free(error);
  check(bihuan_get(NULL, id, NULL, NULL) == BIHUAN_EINVAL, "NULL handle", NULL);

  check(bihuan_close(engine, NULL) == BIHUAN_OK, "close", NULL);
  check(bihuan_get(engine, id, NULL, NULL) == BIHUAN_ECLOSED, "get after close", NULL);
  bihuan_release(engine);
  return failures ? 1 : 0;
}

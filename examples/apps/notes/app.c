// The notes app's guest: a WASI 0.2 component (C) that keeps one text file,
// /data/notes.txt, in its data dir (capability fs:rw:app-data). Commands
// from its UI over weft:app/ipc:
//   load          -> {"notes":"<the file's text>"}   ("" when there is none yet)
//   save:<text>   -> {"saved":<bytes>}                (the file is replaced atomically)
// Failures are answered {"error":"<what and why>"}.
#define WEFT_APP_IMPLEMENTATION
#include "weft_app.h"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define NOTES "/data/notes.txt"
#define MAX_NOTES (64 * 1024)

static void reply(const char *json) {
  weft_str_result r = weft_ipc_send(json);
  if (!r.ok) fprintf(stderr, "notes: ipc.send failed: %s\n", r.text ? r.text : "?");
  free(r.text);
}

static void reply_error(const char *what) {
  char msg[256], out[600];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  strcpy(out, "{\"error\":");
  long n = weft_json_string(out, strlen(out), sizeof out - 2, msg, strlen(msg));
  if (n < 0) return reply("{\"error\":\"error\"}");
  strcpy(out + n, "}");
  reply(out);
}

static void load(void) {
  static char text[MAX_NOTES];
  static char out[MAX_NOTES * 6 + 32];
  size_t n = 0;
  FILE *f = fopen(NOTES, "rb");
  if (f) {
    n = fread(text, 1, sizeof text, f);
    fclose(f);
  } else if (errno != ENOENT) {
    return reply_error("cannot read " NOTES);
  }
  strcpy(out, "{\"notes\":");
  long len = weft_json_string(out, strlen(out), sizeof out - 2, text, n);
  strcpy(out + len, "}");
  reply(out);
}

static void save(const char *text) {
  size_t n = strlen(text);
  char out[64];
  if (n > MAX_NOTES) {
    snprintf(out, sizeof out, "{\"error\":\"notes are limited to %d bytes\"}", MAX_NOTES);
    return reply(out);
  }
  // Write a temp file, then rename it over the old one: a crash never leaves half a note.
  FILE *f = fopen(NOTES ".tmp", "wb");
  if (!f) return reply_error("cannot write " NOTES);
  size_t w = fwrite(text, 1, n, f);
  if (fclose(f) != 0 || w != n) return reply_error("cannot write " NOTES);
  if (rename(NOTES ".tmp", NOTES) != 0) return reply_error("cannot replace " NOTES);
  snprintf(out, sizeof out, "{\"saved\":%zu}", n);
  reply(out);
}

int main(void) {
  weft_notify_ready();
  for (;;) {
    weft_str_result m = weft_ipc_recv();
    if (!m.ok) {
      usleep(10000); // ipc.recv does not block: poll every 10 ms
      continue;
    }
    if (!strcmp(m.text, "load")) load();
    else if (!strncmp(m.text, "save:", 5)) save(m.text + 5);
    else reply("{\"error\":\"unknown command (expected load or save:<text>)\"}");
    free(m.text);
  }
}

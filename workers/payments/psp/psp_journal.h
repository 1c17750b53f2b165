/* psp_journal: an append-only file of lines, each made durable (fsync) before the
 * append returns, and read back in order when opened.
 *
 * A crash can leave the last line cut short (no final newline): opening drops it and
 * truncates the file there, since its operation was never answered. A failed append
 * is cut off the same way, so the file only ever holds whole lines.
 *
 * Cost: opening reads the whole file into memory once; an append is one write(2) and
 * one fdatasync(2), milliseconds on a disk. Not thread-safe: the owner serializes
 * appends (psp_service holds its mutex). */
#ifndef PSP_JOURNAL_H
#define PSP_JOURNAL_H

#include <stddef.h>

struct psp_journal;

/* Called for each whole line at open, without its newline (line[len] is a NUL);
 * lineno counts from 1. Return 0 to go on, -1 (with errstr filled) to fail the open. */
typedef int psp_journal_line_cb(const char *line, size_t len, unsigned long lineno,
				void *opaque, char *errstr, size_t errstr_size);

/* Opens path (created when missing, mode 0644), calls cb on each line, and returns the
 * journal ready for appends; NULL with errstr filled when the file cannot be read or
 * cb fails (errstr then names the file and the line). */
struct psp_journal *psp_journal_open(const char *path, psp_journal_line_cb *cb,
				     void *opaque, char *errstr, size_t errstr_size);

/* Closes the file; NULL is fine. */
void psp_journal_close(struct psp_journal *j);

/* Appends line[0..len) (no newline inside) and a newline, then fsyncs. Returns 0, or
 * -1 with errstr filled and the file as it was before. */
int psp_journal_append(struct psp_journal *j, const char *line, size_t len, char *errstr,
		       size_t errstr_size);

#endif

#include "psp_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct psp_journal {
	int fd;
	char *path;
	off_t size; /* bytes of whole lines */
};

/* Reads the whole file into *buf (malloc'd, NUL-terminated). */
static int
psp_journal_slurp(int fd, char **buf, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *b = malloc(cap + 1), *grown;
	ssize_t r;

	if (!b)
		return -1;
	while ((r = read(fd, b + n, cap - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			free(b);
			return -1;
		}
		n += (size_t)r;
		if (n == cap) {
			grown = realloc(b, cap * 2 + 1);
			if (!grown) {
				free(b);
				errno = ENOMEM;
				return -1;
			}
			b = grown;
			cap *= 2;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

struct psp_journal *
psp_journal_open(const char *path, psp_journal_line_cb *cb, void *opaque, char *errstr,
		 size_t errstr_size)
{
	struct psp_journal *j = calloc(1, sizeof(*j));
	char *buf = NULL, cberr[384];
	size_t len = 0, start = 0;
	unsigned long lineno = 0;

	if (!j) {
		snprintf(errstr, errstr_size, "out of memory");
		return NULL;
	}
	j->fd = -1;
	if (!(j->path = strdup(path))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (j->fd < 0 || psp_journal_slurp(j->fd, &buf, &len)) {
		snprintf(errstr, errstr_size, "could not read journal %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	for (char *nl; (nl = memchr(buf + start, '\n', len - start));
	     start = nl + 1 - buf) {
		*nl = '\0';
		lineno++;
		if (cb(buf + start, (size_t)(nl - buf) - start, lineno, opaque, cberr,
		       sizeof(cberr))) {
			snprintf(errstr, errstr_size, "journal %s:%lu: %s", path, lineno,
				 cberr);
			goto fail;
		}
	}
	/* start is where the last whole line ends: cut a partial line off */
	j->size = (off_t)start;
	if ((start < len && ftruncate(j->fd, j->size)) ||
	    lseek(j->fd, j->size, SEEK_SET) < 0) {
		snprintf(errstr, errstr_size, "could not truncate journal %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	free(buf);
	return j;
fail:
	free(buf);
	psp_journal_close(j);
	return NULL;
}

void
psp_journal_close(struct psp_journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

int
psp_journal_append(struct psp_journal *j, const char *line, size_t len, char *errstr,
		   size_t errstr_size)
{
	struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};
	size_t want = len + 1, done = 0;
	ssize_t w;
	int err;

	while (done < want) {
		w = pwritev(j->fd, iov, 2, j->size + (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w == 0 ? EIO : errno;
			goto fail;
		}
		done += (size_t)w;
		for (int i = 0; i < 2; i++) { /* skip what was written */
			size_t step =
			    (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;

			iov[i].iov_base = (char *)iov[i].iov_base + step;
			iov[i].iov_len -= step;
			w -= (ssize_t)step;
		}
	}
	/* fdatasync also writes the new file size: what reading the line back needs */
	if (fdatasync(j->fd)) {
		err = errno;
		goto fail;
	}
	j->size += (off_t)want;
	return 0;
fail:
	snprintf(errstr, errstr_size, "could not append to journal %s: %s", j->path,
		 strerror(err));
	/* the line was never answered: leave no part of it behind (should this fail
	 * too, the disk is failing; the next append overwrites from j->size anyway) */
	if (ftruncate(j->fd, j->size)) {
	}
	return -1;
}

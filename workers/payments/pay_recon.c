#include "pay_recon.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <yajl/yajl_gen.h>

#include "pay_money.h"
#include "souk_json.h"

#define PAY_RECON_HEADER "settled_at,provider_ref,payment_id,type,amount,currency,key\n"
#define PAY_RECON_COLUMNS 7

static const char *const pay_recon_column[PAY_RECON_COLUMNS] = {
    "settled_at", "provider_ref", "payment_id", "type", "amount", "currency", "key",
};

/* The unix seconds of the date s[0..10) "YYYY-MM-DD", or -1 when it is not a real date
 * from 1970 on. */
static int64_t
pay_recon_date(const char *s)
{
	struct tm tm = {0};
	int y, m, d;
	time_t secs;

	for (size_t i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : s[i] < '0' || s[i] > '9')
			return -1;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	secs = timegm(&tm);
	/* timegm normalizes 02-30 into March: a date that moved was not real */
	if (secs == (time_t)-1 || tm.tm_year != y - 1900 || tm.tm_mon != m - 1 ||
	    tm.tm_mday != d)
		return -1;
	return (int64_t)secs;
}

int
pay_recon_parse_day(const char *date, int64_t *day_ms, char *errstr, size_t errstr_size)
{
	int64_t secs = strlen(date) == 10 ? pay_recon_date(date) : -1;

	if (secs < 0) {
		snprintf(errstr, errstr_size,
			 "date: must be a calendar date like 2026-11-27, got \"%.32s\"",
			 date);
		return -1;
	}
	*day_ms = secs * 1000;
	return 0;
}

/* The two digits at s, or -1 when they are not digits. */
static int
pay_recon_2digits(const char *s)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" into unix milliseconds. Returns 0, or -1. */
static int
pay_recon_ts(const char *s, int64_t *ms)
{
	int64_t secs;
	int h, mi, sec, milli = 0;

	if (strlen(s) != SOUK_EVENT_TS_SIZE - 1 || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return -1;
	secs = pay_recon_date(s);
	h = pay_recon_2digits(s + 11);
	mi = pay_recon_2digits(s + 14);
	sec = pay_recon_2digits(s + 17);
	for (size_t i = 20; i < 23; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		milli = milli * 10 + (s[i] - '0');
	}
	if (secs < 0 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
		return -1;
	*ms = ((secs + h * 3600 + mi * 60 + sec) * 1000) + milli;
	return 0;
}

/* An amount: decimal digits only, 1..PAY_MONEY_MAX. Returns 0, or -1. */
static int
pay_recon_amount(const char *s, int64_t *amount)
{
	int64_t v = 0;

	if (!*s || strlen(s) > 13)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < 1 || v > PAY_MONEY_MAX)
		return -1;
	*amount = v;
	return 0;
}

/* 1 to PAY_RECON_REF_SIZE - 1 printable ASCII characters, no space. */
static bool
pay_recon_ref_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PAY_RECON_REF_SIZE)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* Checks the text of column col (0-based) into row; -1 with why filled. */
static int
pay_recon_field(struct pay_recon_row *row, int col, const char *v, char *why,
		size_t why_size)
{
	switch (col) {
	case 0:
		if (pay_recon_ts(v, &row->settled_at_ms) == 0)
			return 0;
		snprintf(why, why_size,
			 "must be RFC 3339 UTC with milliseconds like "
			 "2026-11-27T10:00:00.000Z");
		return -1;
	case 1:
		if (pay_recon_ref_valid(v)) {
			strcpy(row->provider_ref, v);
			return 0;
		}
		snprintf(why, why_size, "must be 1 to %d printable characters",
			 PAY_RECON_REF_SIZE - 1);
		return -1;
	case 2:
		if (souk_event_identifier_valid(v)) {
			strcpy(row->payment_id, v);
			return 0;
		}
		snprintf(why, why_size, "must be an identifier");
		return -1;
	case 3:
		if (strcmp(v, "capture") == 0 || strcmp(v, "refund") == 0) {
			row->type = v[0] == 'c' ? PAY_RECON_CAPTURE : PAY_RECON_REFUND;
			return 0;
		}
		snprintf(why, why_size, "must be capture or refund");
		return -1;
	case 4:
		if (pay_recon_amount(v, &row->amount) == 0)
			return 0;
		snprintf(why, why_size, "must be an integer from 1 to %" PRId64,
			 PAY_MONEY_MAX);
		return -1;
	case 5:
		if (souk_event_currency_exponent(v) >= 0) {
			strcpy(row->currency, v);
			return 0;
		}
		snprintf(why, why_size, "must be a currency souk accepts");
		return -1;
	default:
		if (souk_event_idempotency_key_valid(v)) {
			strcpy(row->key, v);
			return 0;
		}
		snprintf(why, why_size, "must be 1 to %d printable characters",
			 SOUK_EVENT_IDEMPOTENCY_KEY_MAX);
		return -1;
	}
}

/*
 * Reads the field at csv[*pos..len) into v[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE], quoted
 * or not, leaving *pos on the character after it (a ',', a '\n' or len) and counting
 * the line breaks inside quotes into *line. Returns 0, or -1 with why filled.
 */
static int
pay_recon_read(const char *csv, size_t len, size_t *pos, int *line, char *v, char *why,
	       size_t why_size)
{
	size_t i = *pos, n = 0;
	bool quoted = i < len && csv[i] == '"';

	if (quoted)
		i++;
	for (;; i++) {
		char c;

		if (i == len) {
			if (quoted) {
				snprintf(why, why_size, "has no closing quote");
				return -1;
			}
			break;
		}
		c = csv[i];
		if (quoted && c == '"') {
			if (i + 1 < len && csv[i + 1] == '"') {
				i++;
			} else {
				i++;
				break;
			}
		} else if (!quoted && (c == ',' || c == '\n')) {
			break;
		} else if (!quoted && (c == '"' || c == '\r')) {
			snprintf(why, why_size, "has a stray %s",
				 c == '"' ? "quote" : "carriage return");
			return -1;
		} else if (c == '\n') {
			(*line)++;
		}
		if (n == SOUK_EVENT_IDEMPOTENCY_KEY_SIZE - 1) {
			snprintf(why, why_size, "is longer than %d characters",
				 SOUK_EVENT_IDEMPOTENCY_KEY_MAX);
			return -1;
		}
		v[n++] = c;
	}
	v[n] = '\0';
	*pos = i;
	return 0;
}

int
pay_recon_parse_report(const char *csv, size_t len, struct pay_recon_row **rows,
		       size_t *n, char *errstr, size_t errstr_size)
{
	const size_t header_len = sizeof(PAY_RECON_HEADER) - 1;
	struct pay_recon_row *out = NULL;
	size_t count = 0, cap = 0, pos = header_len;
	char value[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE];
	char why[128];
	int line = 2, col = 0;
	int rc = -1;

	*rows = NULL;
	*n = 0;
	if (len < header_len || memcmp(csv, PAY_RECON_HEADER, header_len) != 0) {
		snprintf(errstr, errstr_size, "line 1: the header must be \"%.*s\"",
			 (int)header_len - 1, PAY_RECON_HEADER);
		goto out;
	}
	while (pos < len) {
		struct pay_recon_row row = {0};

		for (col = 0; col < PAY_RECON_COLUMNS; col++) {
			int at = line;

			if (pay_recon_read(csv, len, &pos, &line, value, why,
					   sizeof(why)) ||
			    pay_recon_field(&row, col, value, why, sizeof(why))) {
				line = at;
				goto bad;
			}
			if (pos == len) {
				snprintf(why, sizeof(why), "the line has no line break");
				goto bad;
			}
			if (csv[pos] == '\n' && col < PAY_RECON_COLUMNS - 1) {
				col++;
				snprintf(why, sizeof(why), "is missing");
				goto bad;
			}
			if (csv[pos] == ',' && col == PAY_RECON_COLUMNS - 1) {
				snprintf(why, sizeof(why), "is followed by more fields");
				goto bad;
			}
			pos++;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct pay_recon_row *grown = realloc(out, ncap * sizeof(*out));

			if (!grown) {
				snprintf(errstr, errstr_size,
					 "could not parse the report: out of memory");
				goto out;
			}
			out = grown;
			cap = ncap;
		}
		out[count++] = row;
		line++;
	}
	*rows = out;
	*n = count;
	out = NULL;
	rc = 0;
	goto out;
bad:
	snprintf(errstr, errstr_size, "line %d, column %d (%s): %s", line, col + 1,
		 pay_recon_column[col], why);
out:
	free(out);
	return rc;
}

const char *
pay_recon_kind_name(enum pay_recon_kind kind)
{
	static const char *const names[] = {
	    [PAY_RECON_MISSING_AT_PROVIDER] = "missing_at_provider",
	    [PAY_RECON_MISSING_IN_LEDGER] = "missing_in_ledger",
	    [PAY_RECON_AMOUNT_MISMATCH] = "amount_mismatch",
	    [PAY_RECON_CURRENCY_MISMATCH] = "currency_mismatch",
	    [PAY_RECON_STATE_MISMATCH] = "state_mismatch",
	};

	return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : NULL;
}

void
pay_recon_result_clear(struct pay_recon_result *r)
{
	free(r->discrepancies);
	free(r->settle);
	memset(r, 0, sizeof(*r));
}

static int
pay_recon_ledger_cmp(const void *a, const void *b)
{
	const struct pay_recon_payment *const *x = a, *const *y = b;

	return strcmp((*x)->provider_ref, (*y)->provider_ref);
}

/* By provider_ref, then captures before refunds, then settled_at (a total order on
 * what the comparison reads, so the output does not depend on qsort). */
static int
pay_recon_row_cmp(const void *a, const void *b)
{
	const struct pay_recon_row *const *x = a, *const *y = b;
	int c = strcmp((*x)->provider_ref, (*y)->provider_ref);

	if (c)
		return c;
	if ((*x)->type != (*y)->type)
		return (*x)->type < (*y)->type ? -1 : 1;
	if ((*x)->settled_at_ms != (*y)->settled_at_ms)
		return (*x)->settled_at_ms < (*y)->settled_at_ms ? -1 : 1;
	return strcmp((*x)->key, (*y)->key);
}

/* The comparison under way: the day and the growing result. */
struct pay_recon_run {
	int64_t day_ms;
	struct pay_recon_result *out;
	size_t cap_discrepancies;
	size_t cap_settle;
};

/* Appends a discrepancy of kind about payment_id/provider_ref to the result and
 * returns it (amounts off, detail empty), or NULL when out of memory. */
static struct pay_recon_discrepancy *
pay_recon_add(struct pay_recon_run *run, enum pay_recon_kind kind, const char *payment_id,
	      const char *provider_ref)
{
	struct pay_recon_result *out = run->out;
	struct pay_recon_discrepancy *d;

	if (out->n_discrepancies == run->cap_discrepancies) {
		size_t ncap = run->cap_discrepancies ? run->cap_discrepancies * 2 : 16;

		d = realloc(out->discrepancies, ncap * sizeof(*d));
		if (!d)
			return NULL;
		out->discrepancies = d;
		run->cap_discrepancies = ncap;
	}
	d = &out->discrepancies[out->n_discrepancies++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	snprintf(d->payment_id, sizeof(d->payment_id), "%s", payment_id);
	snprintf(d->provider_ref, sizeof(d->provider_ref), "%s", provider_ref);
	return d;
}

static void
pay_recon_amounts(struct pay_recon_discrepancy *d, const char *currency, int64_t expected,
		  int64_t got)
{
	d->amounts = true;
	snprintf(d->currency, sizeof(d->currency), "%s", currency);
	d->expected = expected;
	d->got = got;
}

static bool
pay_recon_in_day(const struct pay_recon_run *run, int64_t ms)
{
	return ms >= run->day_ms && ms < run->day_ms + PAY_RECON_DAY_MS;
}

/* Every report row of a provider_ref the ledger does not know. */
static int
pay_recon_unknown(struct pay_recon_run *run, const struct pay_recon_row *const *rows,
		  size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pay_recon_row *r = rows[i];
		struct pay_recon_discrepancy *d = pay_recon_add(
		    run, PAY_RECON_MISSING_IN_LEDGER, r->payment_id, r->provider_ref);

		if (!d)
			return -1;
		pay_recon_amounts(d, r->currency, 0, r->amount);
		snprintf(d->detail, sizeof(d->detail),
			 "the provider settled a %s the ledger does not have",
			 r->type == PAY_RECON_CAPTURE ? "capture" : "refund");
	}
	return 0;
}

/* The capture side of payment p against its reported captures caps[0..n). */
static int
pay_recon_capture(struct pay_recon_run *run, const struct pay_recon_payment *p,
		  const struct pay_recon_row *const *caps, size_t n)
{
	bool captured = p->amount_captured > 0;
	struct pay_recon_discrepancy *d = NULL;
	struct pay_recon_settle *s;

	if (n == 0) {
		if (!captured || !pay_recon_in_day(run, p->captured_at_ms))
			return 0;
		d = pay_recon_add(run, PAY_RECON_MISSING_AT_PROVIDER, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		pay_recon_amounts(d, p->currency, p->amount_captured, 0);
		snprintf(d->detail, sizeof(d->detail), "the report has no capture of it");
		return 0;
	}
	if (!captured) {
		d = pay_recon_add(run, PAY_RECON_STATE_MISMATCH, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		snprintf(
		    d->detail, sizeof(d->detail),
		    "the provider settled a capture of a payment the ledger shows %s",
		    pay_fsm_state_name(p->state));
		return 0;
	}
	if (n > 1) {
		d = pay_recon_add(run, PAY_RECON_STATE_MISMATCH, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		snprintf(d->detail, sizeof(d->detail),
			 "the provider settled %zu captures of it", n);
		return 0;
	}
	if (strcmp(caps[0]->currency, p->currency) != 0) {
		d = pay_recon_add(run, PAY_RECON_CURRENCY_MISMATCH, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		snprintf(d->detail, sizeof(d->detail),
			 "the ledger captured in %s, the provider settled in %s",
			 p->currency, caps[0]->currency);
		return 0;
	}
	if (caps[0]->amount != p->amount_captured) {
		d = pay_recon_add(run, PAY_RECON_AMOUNT_MISMATCH, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		pay_recon_amounts(d, p->currency, p->amount_captured, caps[0]->amount);
		snprintf(d->detail, sizeof(d->detail),
			 "the provider settled another amount than the ledger captured");
		return 0;
	}
	if (p->state != PAY_STATE_CAPTURED)
		return 0;
	if (run->out->n_settle == run->cap_settle) {
		size_t ncap = run->cap_settle ? run->cap_settle * 2 : 16;

		s = realloc(run->out->settle, ncap * sizeof(*s));
		if (!s)
			return -1;
		run->out->settle = s;
		run->cap_settle = ncap;
	}
	s = &run->out->settle[run->out->n_settle++];
	memset(s, 0, sizeof(*s));
	snprintf(s->payment_id, sizeof(s->payment_id), "%s", p->payment_id);
	snprintf(s->provider_ref, sizeof(s->provider_ref), "%s", p->provider_ref);
	s->amount = p->amount_captured;
	snprintf(s->currency, sizeof(s->currency), "%s", p->currency);
	return 0;
}

/* The refund side of payment p against its reported refunds refs[0..n): each in the
 * payment's currency, and the day's totals equal. Cost: O(n + p's refunds). */
static int
pay_recon_refunds(struct pay_recon_run *run, const struct pay_recon_payment *p,
		  const struct pay_recon_row *const *refs, size_t n)
{
	struct pay_recon_discrepancy *d;
	int64_t ledger = 0, report = 0;

	for (size_t i = 0; i < p->n_refunds; i++)
		if (pay_recon_in_day(run, p->refunds[i].at_ms))
			ledger +=
			    p->refunds[i].amount; /* at most the capture: no overflow */
	if (ledger == 0)
		return pay_recon_unknown(run, refs, n);
	for (size_t i = 0; i < n; i++) {
		/* each at most PAY_MONEY_MAX: overflows only past 9 million rows */
		if (pay_money_add(report, refs[i]->amount, &report))
			report = INT64_MAX;
		if (strcmp(refs[i]->currency, p->currency) == 0)
			continue;
		d = pay_recon_add(run, PAY_RECON_CURRENCY_MISMATCH, p->payment_id,
				  p->provider_ref);
		if (!d)
			return -1;
		snprintf(d->detail, sizeof(d->detail),
			 "the ledger refunded in %s, the provider settled a refund in %s",
			 p->currency, refs[i]->currency);
	}
	if (report == ledger)
		return 0;
	d = pay_recon_add(run, PAY_RECON_STATE_MISMATCH, p->payment_id, p->provider_ref);
	if (!d)
		return -1;
	pay_recon_amounts(d, p->currency, ledger, report);
	snprintf(d->detail, sizeof(d->detail),
		 "the day's refunds add up to another total at the provider");
	return 0;
}

int
pay_recon_compare(const struct pay_recon_payment *ledger, size_t n_ledger,
		  const struct pay_recon_row *report, size_t n_report, int64_t day_ms,
		  struct pay_recon_result *out, char *errstr, size_t errstr_size)
{
	const struct pay_recon_payment **lp = NULL;
	const struct pay_recon_row **rp = NULL;
	struct pay_recon_run run = {day_ms, out, 0, 0};
	size_t i = 0, j = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->day_ms = day_ms;
	lp = malloc((n_ledger ? n_ledger : 1) * sizeof(*lp));
	rp = malloc((n_report ? n_report : 1) * sizeof(*rp));
	if (!lp || !rp)
		goto oom;
	for (size_t k = 0; k < n_ledger; k++) {
		if (!ledger[k].provider_ref || !ledger[k].provider_ref[0]) {
			snprintf(
			    errstr, errstr_size,
			    "could not reconcile payment \"%s\": it has no provider_ref",
			    ledger[k].payment_id);
			goto out;
		}
		lp[k] = &ledger[k];
	}
	for (size_t k = 0; k < n_report; k++)
		rp[k] = &report[k];
	qsort(lp, n_ledger, sizeof(*lp), pay_recon_ledger_cmp);
	qsort(rp, n_report, sizeof(*rp), pay_recon_row_cmp);
	for (size_t k = 1; k < n_ledger; k++)
		if (strcmp(lp[k - 1]->provider_ref, lp[k]->provider_ref) == 0) {
			snprintf(
			    errstr, errstr_size,
			    "could not reconcile payments \"%s\" and \"%s\": both have "
			    "provider_ref \"%s\"",
			    lp[k - 1]->payment_id, lp[k]->payment_id,
			    lp[k]->provider_ref);
			goto out;
		}
	/* One step per provider_ref, in order: the ledger's payment (if any) against
	 * the report's rows of that provider_ref (captures first, then refunds). */
	while (i < n_ledger || j < n_report) {
		const char *ref;
		size_t caps = j, refs, end;
		int c;

		if (i == n_ledger)
			c = 1;
		else if (j == n_report)
			c = -1;
		else
			c = strcmp(lp[i]->provider_ref, rp[j]->provider_ref);
		ref = c <= 0 ? lp[i]->provider_ref : rp[j]->provider_ref;
		end = j;
		if (c >= 0)
			while (end < n_report && strcmp(rp[end]->provider_ref, ref) == 0)
				end++;
		for (refs = caps; refs < end && rp[refs]->type == PAY_RECON_CAPTURE;
		     refs++)
			;
		if (c > 0) {
			if (pay_recon_unknown(&run, rp + j, end - j))
				goto oom;
		} else if (pay_recon_capture(&run, lp[i], rp + caps, refs - caps) ||
			   pay_recon_refunds(&run, lp[i], rp + refs, end - refs)) {
			goto oom;
		}
		if (c <= 0)
			i++;
		j = end;
	}
	rc = 0;
	goto out;
oom:
	snprintf(errstr, errstr_size, "could not reconcile: out of memory");
out:
	if (rc)
		pay_recon_result_clear(out);
	free(lp);
	free(rp);
	return rc;
}

/* "YYYY-MM-DD" of the day starting at day_ms. */
static void
pay_recon_date_text(int64_t day_ms, char out[11])
{
	time_t secs = (time_t)(day_ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* amount in currency's major units and the code ("19.99 EUR") into buf. */
static const char *
pay_recon_money(int64_t amount, const char *currency, char *buf, size_t size)
{
	char major[PAY_MONEY_FORMAT_SIZE];

	if (pay_money_format(amount, currency, major, sizeof(major)) < 0)
		snprintf(major, sizeof(major), "%" PRId64, amount);
	snprintf(buf, size, "%s %s", major, currency);
	return buf;
}

#define PAY_RECON_MONEY_SIZE (PAY_MONEY_FORMAT_SIZE + SOUK_EVENT_CURRENCY_SIZE + 1)

static int
pay_recon_width(int w, const char *s)
{
	int n = (int)strlen(s);

	return n > w ? n : w;
}

int
pay_recon_print_table(FILE *f, const struct pay_recon_result *r)
{
	char date[11], exp[PAY_RECON_MONEY_SIZE], got[PAY_RECON_MONEY_SIZE];
	int wk = 4, wp = 10, wr = 12, we = 8, wg = 3, wa = 6;

	pay_recon_date_text(r->day_ms, date);
	/* One pass for the column widths, one to print. O(rows). */
	for (size_t i = 0; i < r->n_discrepancies; i++) {
		const struct pay_recon_discrepancy *d = &r->discrepancies[i];

		wk = pay_recon_width(wk, pay_recon_kind_name(d->kind));
		wp = pay_recon_width(wp, d->payment_id);
		wr = pay_recon_width(wr, d->provider_ref);
		if (d->amounts) {
			we = pay_recon_width(we, pay_recon_money(d->expected, d->currency,
								 exp, sizeof(exp)));
			wg = pay_recon_width(
			    wg, pay_recon_money(d->got, d->currency, got, sizeof(got)));
		}
	}
	for (size_t i = 0; i < r->n_settle; i++) {
		const struct pay_recon_settle *s = &r->settle[i];

		wp = pay_recon_width(wp, s->payment_id);
		wr = pay_recon_width(wr, s->provider_ref);
		wa = pay_recon_width(
		    wa, pay_recon_money(s->amount, s->currency, exp, sizeof(exp)));
	}
	fprintf(f, "reconciliation of %s: %zu discrepancies, %zu captures to settle\n",
		date, r->n_discrepancies, r->n_settle);
	if (r->n_discrepancies) {
		fprintf(f, "\n%-*s  %-*s  %-*s  %*s  %*s  %s\n", wk, "kind", wp,
			"payment_id", wr, "provider_ref", we, "expected", wg, "got",
			"detail");
		for (size_t i = 0; i < r->n_discrepancies; i++) {
			const struct pay_recon_discrepancy *d = &r->discrepancies[i];

			if (d->amounts) {
				pay_recon_money(d->expected, d->currency, exp,
						sizeof(exp));
				pay_recon_money(d->got, d->currency, got, sizeof(got));
			} else {
				strcpy(exp, "-");
				strcpy(got, "-");
			}
			fprintf(f, "%-*s  %-*s  %-*s  %*s  %*s  %s\n", wk,
				pay_recon_kind_name(d->kind), wp, d->payment_id, wr,
				d->provider_ref, we, exp, wg, got, d->detail);
		}
	}
	if (r->n_settle) {
		fprintf(f, "\n%-*s  %-*s  %*s\n", wp, "payment_id", wr, "provider_ref",
			wa, "settle");
		for (size_t i = 0; i < r->n_settle; i++) {
			const struct pay_recon_settle *s = &r->settle[i];

			fprintf(
			    f, "%-*s  %-*s  %*s\n", wp, s->payment_id, wr,
			    s->provider_ref, wa,
			    pay_recon_money(s->amount, s->currency, exp, sizeof(exp)));
		}
	}
	return ferror(f) ? -1 : 0;
}

int
pay_recon_json(const struct pay_recon_result *r, char **json, size_t *len)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	char date[11];
	int rc = -1;

	*json = NULL;
	if (!g)
		goto out;
	pay_recon_date_text(r->day_ms, date);
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "date");
	souk_json_gen_str(g, date);
	souk_json_gen_str(g, "discrepancies");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_discrepancies; i++) {
		const struct pay_recon_discrepancy *d = &r->discrepancies[i];

		yajl_gen_map_open(g);
		souk_json_gen_str(g, "kind");
		souk_json_gen_str(g, pay_recon_kind_name(d->kind));
		souk_json_gen_str(g, "payment_id");
		souk_json_gen_str(g, d->payment_id);
		souk_json_gen_str(g, "provider_ref");
		souk_json_gen_str(g, d->provider_ref);
		if (d->amounts) {
			souk_json_gen_str(g, "currency");
			souk_json_gen_str(g, d->currency);
			souk_json_gen_str(g, "expected");
			yajl_gen_integer(g, d->expected);
			souk_json_gen_str(g, "got");
			yajl_gen_integer(g, d->got);
		}
		souk_json_gen_str(g, "detail");
		souk_json_gen_str(g, d->detail);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	souk_json_gen_str(g, "settle");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_settle; i++) {
		const struct pay_recon_settle *s = &r->settle[i];

		yajl_gen_map_open(g);
		souk_json_gen_str(g, "payment_id");
		souk_json_gen_str(g, s->payment_id);
		souk_json_gen_str(g, "provider_ref");
		souk_json_gen_str(g, s->provider_ref);
		souk_json_gen_str(g, "amount");
		yajl_gen_integer(g, s->amount);
		souk_json_gen_str(g, "currency");
		souk_json_gen_str(g, s->currency);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	if (yajl_gen_map_close(g) != yajl_gen_status_ok ||
	    yajl_gen_get_buf(g, &buf, len) != yajl_gen_status_ok)
		goto out;
	*json = malloc(*len + 1);
	if (!*json)
		goto out;
	memcpy(*json, buf, *len);
	(*json)[*len] = '\0';
	rc = 0;
out:
	if (g)
		yajl_gen_free(g);
	return rc;
}

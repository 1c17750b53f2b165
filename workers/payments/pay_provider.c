#include "pay_provider.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <yajl/yajl_gen.h>

#include "souk_json.h"

/* One request in flight: owns its easy handle and every byte it sends or receives. */
struct pay_provider_xfer {
	struct pay_provider *p;
	struct pay_provider_xfer *prev, *next; /* p->xfers */
	CURL *easy;
	struct curl_slist *headers;
	enum pay_provider_op op;
	char *key;
	char *url;
	unsigned char *body; /* the JSON sent; NULL for LOOKUP */
	char *answer;	     /* what came back, NUL-terminated */
	size_t len, cap;
	bool too_large; /* the answer went over PAY_PROVIDER_MAX_ANSWER */
	pay_provider_cb *cb;
	void *opaque;
	char curl_err[CURL_ERROR_SIZE];
	char msg[256]; /* our own error text for the result */
};

struct pay_provider {
	CURLM *multi;
	char *base_url; /* without a trailing slash */
	long timeout_ms;
	size_t pending;			 /* xfers in the list */
	struct pay_provider_xfer *xfers; /* every request in flight, for destroy */
};

static pthread_once_t pay_provider_once = PTHREAD_ONCE_INIT;
static CURLcode pay_provider_global_rc; /* written once, under pay_provider_once */

static void
pay_provider_global_init(void)
{
	pay_provider_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static const char *
pay_provider_op_name(enum pay_provider_op op)
{
	static const char *const names[] = {"authorize", "capture", "void", "refund",
					    "lookup"};

	return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}

const char *
pay_provider_outcome_name(enum pay_provider_outcome outcome)
{
	static const char *const names[] = {"ok", "refused", "failed", "unknown",
					    "not_found"};

	return (unsigned)outcome < sizeof(names) / sizeof(names[0]) ? names[outcome]
								    : NULL;
}

struct pay_provider *
pay_provider_new(const char *base_url, long timeout_ms, char *errstr, size_t errstr_size)
{
	struct pay_provider *p = NULL, *ret = NULL;
	size_t n;

	pthread_once(&pay_provider_once, pay_provider_global_init);
	if (pay_provider_global_rc != CURLE_OK) {
		snprintf(errstr, errstr_size, "could not initialize libcurl: %s",
			 curl_easy_strerror(pay_provider_global_rc));
		goto out;
	}
	if (!base_url ||
	    (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8))) {
		snprintf(errstr, errstr_size,
			 "could not use provider url \"%.200s\": not http:// or https://",
			 base_url ? base_url : "");
		goto out;
	}
	if (timeout_ms <= 0) {
		snprintf(errstr, errstr_size,
			 "could not use provider timeout %ld ms: must be positive",
			 timeout_ms);
		goto out;
	}
	if (!(p = calloc(1, sizeof(*p))) || !(p->base_url = strdup(base_url)) ||
	    !(p->multi = curl_multi_init())) {
		snprintf(errstr, errstr_size, "could not create the provider client: %s",
			 "out of memory");
		goto out;
	}
	n = strlen(p->base_url);
	while (n > 0 && p->base_url[n - 1] == '/')
		p->base_url[--n] = '\0';
	p->timeout_ms = timeout_ms;
	curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)PAY_PROVIDER_MAX_CONNECTIONS);
	/* keep every connection of the busiest moment alive for the next requests */
	curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS,
			  (long)PAY_PROVIDER_MAX_CONNECTIONS);
	ret = p;
	p = NULL; /* owned by the caller */
out:
	pay_provider_destroy(p);
	return ret;
}

static void
pay_provider_xfer_free(struct pay_provider_xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->key);
	free(x->url);
	free(x->body);
	free(x->answer);
	free(x);
}

/* Takes x out of its provider's list and multi handle and frees it. */
static void
pay_provider_xfer_drop(struct pay_provider_xfer *x)
{
	struct pay_provider *p = x->p;

	curl_multi_remove_handle(p->multi, x->easy);
	if (x->prev)
		x->prev->next = x->next;
	else
		p->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	p->pending--;
	pay_provider_xfer_free(x);
}

void
pay_provider_destroy(struct pay_provider *p)
{
	if (!p)
		return;
	while (p->xfers)
		pay_provider_xfer_drop(p->xfers);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	free(p->base_url);
	free(p);
}

/* ---- submitting --------------------------------------------------------------- */

/* The JSON body of a POST, malloc'd and NUL-terminated, or NULL when out of memory.
 * Fields were checked by pay_provider_check. */
static unsigned char *
pay_provider_body(const struct pay_provider_request *req)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	unsigned char *body = NULL;
	size_t len;

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	if (req->op == PAY_PROVIDER_AUTHORIZE) {
		souk_json_gen_str(g, "payment_id");
		souk_json_gen_str(g, req->payment_id);
	}
	if (req->op != PAY_PROVIDER_VOID) {
		souk_json_gen_str(g, "amount");
		yajl_gen_integer(g, req->amount);
	}
	if (req->op == PAY_PROVIDER_AUTHORIZE) {
		souk_json_gen_str(g, "currency");
		souk_json_gen_str(g, req->currency);
	}
	if (req->op == PAY_PROVIDER_REFUND) {
		souk_json_gen_str(g, "refund_id");
		souk_json_gen_str(g, req->refund_id);
	}
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		body = (unsigned char *)strndup((const char *)buf, len);
	yajl_gen_free(g);
	return body;
}

/* The first field req->op needs and lacks, or NULL when all are there. The key goes
 * in a header: control characters in it are refused like a missing key. */
static const char *
pay_provider_check(const struct pay_provider_request *req)
{
	const char *k = req->idempotency_key;

	if (!k || !*k)
		return "idempotency_key";
	for (; *k; k++)
		if ((unsigned char)*k < 0x20 || *k == 0x7f)
			return "idempotency_key";
	switch (req->op) {
	case PAY_PROVIDER_AUTHORIZE:
		if (!req->payment_id || !*req->payment_id)
			return "payment_id";
		if (!req->currency || !*req->currency)
			return "currency";
		return NULL;
	case PAY_PROVIDER_REFUND:
		if (!req->refund_id || !*req->refund_id)
			return "refund_id";
		/* fall through */
	case PAY_PROVIDER_CAPTURE:
	case PAY_PROVIDER_VOID:
		return req->provider_ref && *req->provider_ref ? NULL : "provider_ref";
	case PAY_PROVIDER_LOOKUP:
		return NULL;
	}
	return "op";
}

/* The request's URL, malloc'd, or NULL when out of memory. */
static char *
pay_provider_url(const struct pay_provider *p, CURL *easy,
		 const struct pay_provider_request *req)
{
	char *esc, *url = NULL;
	int n;

	if (req->op == PAY_PROVIDER_AUTHORIZE)
		n = asprintf(&url, "%s/v1/payments/authorize", p->base_url);
	else if (req->op == PAY_PROVIDER_LOOKUP) {
		if (!(esc = curl_easy_escape(easy, req->idempotency_key, 0)))
			return NULL;
		n = asprintf(&url, "%s/v1/operations/%s", p->base_url, esc);
		curl_free(esc);
	} else {
		if (!(esc = curl_easy_escape(easy, req->provider_ref, 0)))
			return NULL;
		n = asprintf(&url, "%s/v1/payments/%s/%s", p->base_url, esc,
			     pay_provider_op_name(req->op));
		curl_free(esc);
	}
	return n < 0 ? NULL : url;
}

/* CURLOPT_WRITEFUNCTION: appends to x->answer; stops the transfer (CURLE_WRITE_ERROR)
 * past PAY_PROVIDER_MAX_ANSWER or when out of memory. Amortized O(bytes). */
static size_t
pay_provider_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct pay_provider_xfer *x = arg;
	size_t n = size * nmemb, cap;
	char *grown;

	if (x->len + n > PAY_PROVIDER_MAX_ANSWER) {
		x->too_large = true;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		cap = x->cap ? x->cap : 1024;
		while (cap < x->len + n + 1)
			cap *= 2;
		if (!(grown = realloc(x->answer, cap)))
			return 0;
		x->answer = grown;
		x->cap = cap;
	}
	memcpy(x->answer + x->len, data, n);
	x->len += n;
	x->answer[x->len] = '\0';
	return n;
}

int
pay_provider_submit(struct pay_provider *p, const struct pay_provider_request *req,
		    pay_provider_cb *cb, void *opaque, char *errstr, size_t errstr_size)
{
	struct pay_provider_xfer *x = NULL;
	struct curl_slist *h;
	const char *missing = pay_provider_check(req);
	char *header = NULL;
	int ret = -1;

	if (missing) {
		snprintf(errstr, errstr_size,
			 "could not submit %s: %s is missing or invalid",
			 pay_provider_op_name(req->op), missing);
		goto out;
	}
	if (!(x = calloc(1, sizeof(*x))) || !(x->easy = curl_easy_init()) ||
	    !(x->key = strdup(req->idempotency_key)) ||
	    !(x->url = pay_provider_url(p, x->easy, req)) ||
	    asprintf(&header, "Idempotency-Key: %s", req->idempotency_key) < 0 ||
	    !(h = curl_slist_append(NULL, header)))
		goto oom;
	x->headers = h;
	x->p = p;
	x->op = req->op;
	x->cb = cb;
	x->opaque = opaque;
	curl_easy_setopt(x->easy, CURLOPT_URL, x->url);
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, pay_provider_write);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	if (req->op != PAY_PROVIDER_LOOKUP) {
		if (!(x->body = pay_provider_body(req)) ||
		    !(h = curl_slist_append(x->headers,
					    "Content-Type: application/json")))
			goto oom;
		x->headers = h;
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, (char *)x->body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE,
				 (long)strlen((char *)x->body));
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (curl_multi_add_handle(p->multi, x->easy) != CURLM_OK)
		goto oom;
	x->next = p->xfers;
	if (p->xfers)
		p->xfers->prev = x;
	p->xfers = x;
	p->pending++;
	x = NULL; /* owned by p until its callback has run */
	ret = 0;
	goto out;
oom:
	snprintf(errstr, errstr_size, "could not submit %s under key \"%.100s\": %s",
		 pay_provider_op_name(req->op), req->idempotency_key, "out of memory");
out:
	free(header);
	pay_provider_xfer_free(x);
	return ret;
}

/* ---- answers ------------------------------------------------------------------ */

/* obj's member name when it is a string (souk_json wants no NULL), else NULL. */
static const char *
pay_provider_get_str(const souk_json_value_t *obj, const char *name)
{
	const souk_json_value_t *v = souk_json_object_get(obj, name);

	return v ? souk_json_string(v, NULL) : NULL;
}

/* Sets *out to obj's member name when it is an integer; returns whether it was. */
static bool
pay_provider_get_int(const souk_json_value_t *obj, const char *name, int64_t *out)
{
	const souk_json_value_t *v = souk_json_object_get(obj, name);

	return v && souk_json_number_int64(v, out);
}

/* Classifies an answer (or a stored one, for LOOKUP) with HTTP status `status` and
 * JSON object v into *r. */
static void
pay_provider_classify(struct pay_provider_xfer *x, long status,
		      const souk_json_value_t *v, struct pay_provider_result *r)
{
	const char *code = pay_provider_get_str(v, "code");

	r->http_status = status;
	r->error = pay_provider_get_str(v, "error");
	if (status >= 200 && status < 300) {
		r->provider_ref = pay_provider_get_str(v, "provider_ref");
		r->status = pay_provider_get_str(v, "status");
		pay_provider_get_int(v, "amount", &r->amount);
		if (r->provider_ref && r->status) {
			r->outcome = PAY_PROVIDER_OK;
			return;
		}
		snprintf(x->msg, sizeof(x->msg),
			 "answer %ld without provider_ref or status", status);
		r->error = x->msg;
		return;
	}
	r->code = code;
	if (status == 500 && code && !strcmp(code, "provider_error"))
		r->outcome = PAY_PROVIDER_FAILED;
	else if (status >= 400 && status < 500 && code && strcmp(code, "in_progress"))
		r->outcome = PAY_PROVIDER_REFUSED;
	if (!r->error) {
		snprintf(x->msg, sizeof(x->msg), "answer %ld without an error message",
			 status);
		r->error = x->msg;
	}
}

/* Fills *r for the finished transfer x (curl's result rc). *doc holds the strings r
 * points to; the caller frees it after the callback. */
static void
pay_provider_result(struct pay_provider_xfer *x, CURLcode rc,
		    struct pay_provider_result *r, souk_json_t **doc)
{
	static const souk_json_limits_t limits = {
	    .max_bytes = PAY_PROVIDER_MAX_ANSWER, .max_depth = 8, .max_members = 64};
	const souk_json_value_t *root, *stored;
	souk_json_error_t err;
	const char *code;
	long status = 0;
	int64_t stored_status;

	memset(r, 0, sizeof(*r));
	r->outcome = PAY_PROVIDER_UNKNOWN;
	r->op = x->op;
	r->idempotency_key = x->key;
	if (rc != CURLE_OK) {
		long sent = 0;

		/* Nothing was sent when no connection could be made, unless an attempt
		 * before went out: libcurl sends a request again on a fresh connection
		 * when the reused one it went out on closes without a byte of answer (the
		 * provider died after reading it, perhaps after applying it), and the
		 * fresh connect may fail. CURLINFO_REQUEST_SIZE counts the bytes of every
		 * attempt: any means the provider may have the request. */
		curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &sent);
		if ((rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) &&
		    sent == 0)
			r->outcome = PAY_PROVIDER_FAILED;
		if (x->too_large)
			snprintf(x->msg, sizeof(x->msg), "answer larger than %d bytes",
				 PAY_PROVIDER_MAX_ANSWER);
		else
			snprintf(x->msg, sizeof(x->msg), "%s",
				 x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc));
		r->error = x->msg;
		return;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = status;
	*doc = souk_json_parse(x->answer ? x->answer : "", x->len, &limits, &err);
	if (!*doc || souk_json_type(root = souk_json_root(*doc)) != SOUK_JSON_OBJECT) {
		snprintf(x->msg, sizeof(x->msg), "could not parse answer %ld: %.180s",
			 status, *doc ? "not an object" : err.message);
		r->error = x->msg;
		return;
	}
	if (x->op != PAY_PROVIDER_LOOKUP) {
		pay_provider_classify(x, status, root, r);
		return;
	}
	code = pay_provider_get_str(root, "code");
	if (status == 404 && code && !strcmp(code, "unknown_key")) {
		r->outcome = PAY_PROVIDER_NOT_FOUND;
		r->code = code;
		r->error = pay_provider_get_str(root, "error");
		return;
	}
	if (status != 200) {
		pay_provider_classify(x, status, root, r);
		return;
	}
	/* {"key", "status", "body"}: the stored answer */
	stored = souk_json_object_get(root, "body");
	if (!pay_provider_get_int(root, "status", &stored_status) || !stored ||
	    souk_json_type(stored) != SOUK_JSON_OBJECT) {
		snprintf(x->msg, sizeof(x->msg),
			 "could not parse lookup answer: status or body missing");
		r->error = x->msg;
		return;
	}
	pay_provider_classify(x, (long)stored_status, stored, r);
}

/* Calls the callback of every finished transfer and frees it. Returns how many. */
static int
pay_provider_drain(struct pay_provider *p)
{
	struct pay_provider_xfer *x;
	struct pay_provider_result r;
	souk_json_t *doc;
	CURLMsg *msg;
	int left, done = 0;

	while ((msg = curl_multi_info_read(p->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		doc = NULL;
		pay_provider_result(x, msg->data.result, &r, &doc);
		/* msg is not read again: it dies with the handle's removal below */
		x->cb(&r, x->opaque);
		souk_json_destroy(doc);
		pay_provider_xfer_drop(x);
		done++;
	}
	return done;
}

static long
pay_provider_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
pay_provider_run(struct pay_provider *p, long timeout_ms, char *errstr,
		 size_t errstr_size)
{
	long deadline = pay_provider_now_ms() + timeout_ms, left;
	int running, done = 0;
	CURLMcode mc;

	for (;;) {
		if ((mc = curl_multi_perform(p->multi, &running)) != CURLM_OK)
			goto fail;
		done += pay_provider_drain(p);
		left = deadline - pay_provider_now_ms();
		if (done > 0 || p->pending == 0 || left <= 0)
			return done;
		if ((mc = curl_multi_poll(p->multi, NULL, 0,
					  left > INT_MAX ? INT_MAX : (int)left, NULL)) !=
		    CURLM_OK)
			goto fail;
	}
fail:
	snprintf(errstr, errstr_size, "could not drive the provider requests: %s",
		 curl_multi_strerror(mc));
	return -1;
}

size_t
pay_provider_pending(const struct pay_provider *p)
{
	return p->pending;
}

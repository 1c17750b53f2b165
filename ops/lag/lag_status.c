#include "lag_status.h"

int64_t
lag_status_lag(const struct lag_sample *s)
{
	return s->high > s->committed ? s->high - s->committed : 0;
}

static enum lag_status
lag_status_decide(const struct lag_sample *s, size_t n, enum lag_rule *rule)
{
	bool rewound = false, moved = false, decreased = false;

	if (n == 0) {
		*rule = LAG_RULE_NO_SAMPLES;
		return LAG_STATUS_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (lag_status_lag(&s[i]) == 0) {
			*rule = LAG_RULE_ZERO_LAG;
			return LAG_STATUS_OK;
		}
	}
	for (size_t i = 1; i < n; i++) {
		rewound |= s[i].committed < s[i - 1].committed;
		moved |= s[i].committed != s[i - 1].committed;
		decreased |= lag_status_lag(&s[i]) < lag_status_lag(&s[i - 1]);
	}
	if (rewound) {
		*rule = LAG_RULE_REWIND;
		return LAG_STATUS_REWIND;
	}
	if (!s[n - 1].has_member) {
		*rule = LAG_RULE_NO_MEMBER;
		return LAG_STATUS_STOP;
	}
	if (n >= 2 && !moved) {
		*rule = LAG_RULE_STALLED;
		return LAG_STATUS_STALL;
	}
	if (n >= 2 && !decreased) {
		*rule = LAG_RULE_GROWING;
		return LAG_STATUS_WARN;
	}
	*rule = LAG_RULE_MOVING;
	return LAG_STATUS_OK;
}

enum lag_status
lag_status_eval(const struct lag_sample *samples, size_t n, enum lag_rule *rule)
{
	enum lag_rule r;
	enum lag_status status = lag_status_decide(samples, n, &r);

	if (rule)
		*rule = r;
	return status;
}

enum lag_status
lag_status_group(const enum lag_status *partitions, size_t n)
{
	enum lag_status group = LAG_STATUS_OK;

	for (size_t i = 0; i < n; i++) {
		if (partitions[i] >= LAG_STATUS_STOP)
			return LAG_STATUS_ERR;
		if (partitions[i] == LAG_STATUS_WARN)
			group = LAG_STATUS_WARN;
	}
	return group;
}

const char *
lag_status_name(enum lag_status status)
{
	switch (status) {
	case LAG_STATUS_OK:
		return "OK";
	case LAG_STATUS_WARN:
		return "WARN";
	case LAG_STATUS_ERR:
		return "ERR";
	case LAG_STATUS_STOP:
		return "STOP";
	case LAG_STATUS_STALL:
		return "STALL";
	case LAG_STATUS_REWIND:
		return "REWIND";
	}
	return "?";
}

const char *
lag_status_rule_name(enum lag_rule rule)
{
	switch (rule) {
	case LAG_RULE_NO_SAMPLES:
		return "no samples";
	case LAG_RULE_ZERO_LAG:
		return "zero lag in window";
	case LAG_RULE_REWIND:
		return "committed offset went backwards";
	case LAG_RULE_NO_MEMBER:
		return "no member holds the partition";
	case LAG_RULE_STALLED:
		return "committed offset unchanged";
	case LAG_RULE_GROWING:
		return "lag never decreased";
	case LAG_RULE_MOVING:
		return "consumer is catching up";
	}
	return "?";
}

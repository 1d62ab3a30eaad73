/* ifw_divert_run from an outside program, for t_divert_api.sh:
 *   divert_api_test QUEUE RULES
 * prints "ready" when set up, then at exit (SIGTERM) the counters:
 * "packets N passed N blocked N rejected N reloads N". Public header only. */
#include <stdio.h>
#include <stdlib.h>

#include <ifwall.h>

static void on_ready(void *ctx)
{
	(void)ctx;
	printf("ready\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct ifw_divert_options o = { 0 };
	struct ifw_divert_stats st;
	struct ifw_ruleset *rs;
	struct ifw_error err;
	int ret;

	if (argc != 3)
		return 2;
	if (ifw_ruleset_from_file(argv[2], &rs, NULL) < 0)
		return 2;
	o.queue = (unsigned)atoi(argv[1]);
	o.reload_path = argv[2];
	o.messages = stderr;
	o.ready = on_ready;
	ret = ifw_divert_run(rs, &o, &st, &err);
	if (ret < 0) {
		printf("error %d %s\n", ret, err.message);
		return 1;
	}
	printf("packets %llu passed %llu blocked %llu rejected %llu reloads %llu\n",
	       (unsigned long long)st.packets, (unsigned long long)st.passed,
	       (unsigned long long)st.blocked, (unsigned long long)st.rejected,
	       (unsigned long long)st.reloads);
	return 0;
}

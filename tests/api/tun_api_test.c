/* ifw_tun_run from an outside program, for t_tun_api.sh:
 *   tun_api_test CLIENT_NETNS RULES
 * runs the tun path until SIGTERM (SIGHUP reloads RULES), then prints
 * "client N host N passed N blocked N rejected N reloads N". Public header
 * only; the signal handlers are the caller's, as the header asks. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ifwall.h>

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

int main(int argc, char **argv)
{
	struct ifw_tun_options o = { 0 };
	struct ifw_tun_stats st;
	struct ifw_ruleset *rs;
	struct ifw_error err;
	struct sigaction sa;
	int ret;

	if (argc != 3)
		return 2;
	if (ifw_ruleset_from_file(argv[2], &rs, NULL) < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	o.netns = argv[1];
	o.prefixes = "100.64.0.0/30";
	o.messages = stderr;
	o.reload_path = argv[2];
	ret = ifw_tun_run(rs, &o, &stop, &reload, &st, &err);
	ifw_ruleset_free(rs);
	if (ret < 0) {
		printf("error %d %s\n", ret, err.message);
		return 1;
	}
	printf("client %llu host %llu passed %llu blocked %llu rejected %llu reloads %llu\n",
	       (unsigned long long)st.from_client, (unsigned long long)st.from_host,
	       (unsigned long long)st.passed, (unsigned long long)st.blocked,
	       (unsigned long long)st.rejected, (unsigned long long)st.reloads);
	return 0;
}

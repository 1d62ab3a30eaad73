/* The packet-description parser of 'ifwall query', then the engine on the
 * packet it describes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/engine.h"
#include "rules/ruleset.h"
#include "filter/pktdesc.h"

static struct ruleset *rs;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rules_text[] =
		"killswitch {\n tunnel wg0\n endpoint 198.51.100.7 port 51820 proto udp user 0\n"
		" dns 10.64.0.1\n allow lan\n}\n"
		"pass in on eth0 proto icmp icmp-type echo-request\n";
	struct pktdesc_error err;
	struct packet p;
	char *text;

	if (!rs) {
		rs = ruleset_from_string("fuzz.rules", rules_text, sizeof(rules_text) - 1, NULL);
		if (!rs)
			__builtin_trap();
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&p, 0, sizeof(p));
	if (pktdesc_parse(text, &p, &err) == 0)
		(void)ruleset_decide(rs, &p);
	else if (err.col < 0 || memchr(err.message, '\0', sizeof(err.message)) == NULL)
		__builtin_trap(); /* the error must be a located, terminated message */
	free(text);
	return 0;
}

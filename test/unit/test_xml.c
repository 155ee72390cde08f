/* test_xml.c — the XML extractor: AWS responses, entities, and hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xml.h"
#include "t.h"

static const char describe[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeAutoScalingInstancesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
    "  <DescribeAutoScalingInstancesResult>\n"
    "    <AutoScalingInstances>\n"
    "      <member>\n"
    "        <HealthStatus>HEALTHY</HealthStatus>\n"
    "        <AutoScalingGroupName>my-asg &amp; co</AutoScalingGroupName>\n"
    "        <InstanceId>i-0123456789abcdef0</InstanceId>\n"
    "        <LifecycleState>InService</LifecycleState>\n"
    "        <AvailabilityZone>us-east-1a</AvailabilityZone>\n"
    "        <ProtectedFromScaleIn>false</ProtectedFromScaleIn>\n"
    "      </member>\n"
    "    </AutoScalingInstances>\n"
    "  </DescribeAutoScalingInstancesResult>\n"
    "  <ResponseMetadata>\n"
    "    <RequestId>7c6e177f-f082-11e1-ac58-3714bEXAMPLE</RequestId>\n"
    "  </ResponseMetadata>\n"
    "</DescribeAutoScalingInstancesResponse>\n";

static const char error_doc[] =
    "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    "<RequestId>b9d1a2c3-0000-4d2f-8e1a-EXAMPLE</RequestId></ErrorResponse>";

static int
text(const char *doc, const char *path, char *out, size_t cap)
{
	char err[256];

	return xml_text(doc, strlen(doc), path, out, cap, err, sizeof err);
}

static void
test_describe(void)
{
	char out[256], err[256];

	CHECK_INT(text(describe, "AutoScalingInstances/member/AutoScalingGroupName", out, sizeof out), 11);
	CHECK_STR(out, "my-asg & co");
	CHECK_INT(text(describe, "/DescribeAutoScalingInstancesResponse/DescribeAutoScalingInstancesResult/"
	    "AutoScalingInstances/member/LifecycleState", out, sizeof out), 9);
	CHECK_STR(out, "InService");
	CHECK_INT(text(describe, "RequestId", out, sizeof out), 36);
	CHECK_INT(text(describe, "Error/Code", out, sizeof out), XML_NOT_FOUND);
	CHECK_STR(out, "");
	CHECK_INT(xml_count(describe, strlen(describe), "AutoScalingInstances/member", err, sizeof err), 1);
	CHECK_INT(xml_root(describe, strlen(describe), out, sizeof out, err, sizeof err), 36);
	CHECK_STR(out, "DescribeAutoScalingInstancesResponse");
	/* Anchored paths match only from the root. */
	CHECK_INT(text(describe, "/AutoScalingInstances/member/LifecycleState", out, sizeof out), XML_NOT_FOUND);
	CHECK_INT(text(describe, "/LifecycleState", out, sizeof out), XML_NOT_FOUND);
}

static void
test_empty_list(void)
{
	const char *doc =
	    "<DescribeAutoScalingInstancesResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
	    "<DescribeAutoScalingInstancesResult><AutoScalingInstances/></DescribeAutoScalingInstancesResult>"
	    "<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DescribeAutoScalingInstancesResponse>";
	char out[64], err[128];

	CHECK_INT(text(doc, "AutoScalingInstances/member/AutoScalingGroupName", out, sizeof out), XML_NOT_FOUND);
	CHECK_INT(xml_count(doc, strlen(doc), "AutoScalingInstances/member", err, sizeof err), 0);
	CHECK_INT(xml_count(doc, strlen(doc), "AutoScalingInstances", err, sizeof err), 1);
	CHECK_INT(text(doc, "AutoScalingInstances", out, sizeof out), 0);
	CHECK_STR(out, "");
}

static void
test_error_response(void)
{
	char out[64];

	CHECK_INT(text(error_doc, "/ErrorResponse/Error/Code", out, sizeof out), 10);
	CHECK_STR(out, "Throttling");
	CHECK_INT(text(error_doc, "Error/Message", out, sizeof out), 13);
	CHECK_STR(out, "Rate exceeded");
	/* STS wraps the same in its own namespace, sometimes with a prefix. */
	CHECK_INT(text("<s:ErrorResponse xmlns:s=\"https://sts.amazonaws.com/doc/2011-06-15/\"><s:Error>"
	    "<s:Code>InvalidIdentityToken</s:Code></s:Error></s:ErrorResponse>", "ErrorResponse/Error/Code",
	    out, sizeof out), 20);
	CHECK_STR(out, "InvalidIdentityToken");
}

static void
test_entities(void)
{
	char out[64];

	CHECK_INT(text("<a>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#xe9;&#x20AC;&#x10FFFF;&#0000067;</a>", "a",
	    out, sizeof out), 5 + 2 + 2 + 3 + 4 + 1);
	CHECK_STR(out, "&<>\"'AB\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf" "C");
	CHECK_INT(text("<a>x &amp;amp; y</a>", "a", out, sizeof out), 9);
	CHECK_STR(out, "x &amp; y");
	CHECK_INT(text("<a><![CDATA[<b>&amp;</b>]]>!</a>", "a", out, sizeof out), 13);
	CHECK_STR(out, "<b>&amp;</b>!");
	/* Attribute values may hold '>' and references; they are checked, not returned. */
	CHECK_INT(text("<a x='1>2' y=\"&lt;\" >v</a>", "a", out, sizeof out), 1);
	CHECK_STR(out, "v");
}

static void
test_structure(void)
{
	char out[64], err[128];
	const char *doc = "<r><a><b>1</b></a><x><a><b>2</b></a></x><a><b>3</b><c>y</c></a></r>";

	/* The first match, in document order; suffix paths match at any depth. */
	CHECK_INT(text(doc, "a/b", out, sizeof out), 1);
	CHECK_STR(out, "1");
	CHECK_INT(text(doc, "x/a/b", out, sizeof out), 1);
	CHECK_STR(out, "2");
	CHECK_INT(xml_count(doc, strlen(doc), "a/b", err, sizeof err), 3);
	CHECK_INT(xml_count(doc, strlen(doc), "/r/a", err, sizeof err), 2);
	CHECK_INT(xml_count(doc, strlen(doc), "r", err, sizeof err), 1);
	/* An element's text includes its descendants', comments and PIs excluded. */
	CHECK_INT(text("<r><a>x<!-- no --><b>y</b><?pi z?>w</a></r>", "a", out, sizeof out), 3);
	CHECK_STR(out, "xyw");
	/* Namespace prefixes are ignored in paths, not in tag matching. */
	CHECK_INT(text("<p:r xmlns:p=\"u\"><p:a>v</p:a></p:r>", "/r/a", out, sizeof out), 1);
	CHECK_INT(text("<p:r><p:a>v</q:a></p:r>", "a", out, sizeof out), -1);
	/* White space and a BOM around the root are fine. */
	CHECK_INT(text("\xEF\xBB\xBF \n<!-- c --><r> <a>1</a> </r>\n<!-- after -->\n", "a", out, sizeof out), 1);
	CHECK_INT(text("<r/>", "r", out, sizeof out), 0);
	CHECK_INT(text("<r></r >", "r", out, sizeof out), 0);
	/* Bad paths. */
	CHECK_INT(text("<r/>", "", out, sizeof out), -1);
	CHECK_INT(text("<r/>", "a//b", out, sizeof out), -1);
	CHECK_INT(text("<r/>", "a/", out, sizeof out), -1);
}

static void
test_hostile(void)
{
	static const char *bad[] = {
		"",
		"   ",
		"text",
		"<",
		"<a",
		"<a>",
		"<a></b>",
		"<a><b></a></b>",
		"</a>",
		"<a/><b/>",
		"<a/>junk",
		"<a>&nbsp;</a>",
		"<a>& </a>",
		"<a>&amp</a>",
		"<a>&#;</a>",
		"<a>&#x;</a>",
		"<a>&#12a;</a>",
		"<a>&#0;</a>",
		"<a>&#xD800;</a>",
		"<a>&#xFFFE;</a>",
		"<a>&#x110000;</a>",
		"<a>&#99999999999999999999;</a>",
		"<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><a>&lol;</a>",
		"<a><!-- unterminated </a>",
		"<a><![CDATA[ unterminated </a>",
		"<![CDATA[x]]><a/>",
		"<?pi unterminated <a/>",
		"<a x=1></a>",
		"<a x></a>",
		"<a x='1></a>",
		"<a x='<'></a>",
		"<a x='1'y='2'></a>",
		"<a x='&bad;'></a>",
		"<1a></1a>",
		"<a></ a>",
		"<a></a",
		"<a/ >",
		"<a>\x01</a>",
		"<a>\x7f</a>",
	};
	char out[64], err[256];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int r = xml_text(bad[i], strlen(bad[i]), "a", out, sizeof out, err, sizeof err);
		if (r != -1)
			printf("#   accepted: %s\n", bad[i]);
		CHECK_INT(r, -1);
		CHECK(strncmp(err, "XML: ", 5) == 0);
		CHECK_STR(out, "");
		CHECK_INT(xml_count(bad[i], strlen(bad[i]), "a", err, sizeof err), -1);
	}
	/* An embedded NUL is a control character, not the end of the document. */
	CHECK_INT(xml_text("<a>x\0y</a>", 10, "a", out, sizeof out, err, sizeof err), -1);
}

/* Every proper prefix of a good response is an error: a truncated body never reads as a good one. */
static void
test_truncated(void)
{
	char out[256], err[256];
	size_t end = strlen(describe) - 1, n;   /* the final newline may go */
	int bad = 0;

	for (n = 0; n < end; n++)
		if (xml_text(describe, n, "LifecycleState", out, sizeof out, err, sizeof err) != -1)
			bad++;
	CHECK_INT(bad, 0);
	CHECK_INT(xml_text(describe, end, "LifecycleState", out, sizeof out, err, sizeof err), 9);
	CHECK_INT(xml_text(error_doc, strlen(error_doc) - 1, "Code", out, sizeof out, err, sizeof err), -1);
	CHECK_INT(xml_text(error_doc, 150, "Code", out, sizeof out, err, sizeof err), -1);
	CHECK(strstr(err, "unexpected end of document in an end tag") != NULL);
	CHECK_INT(xml_text(error_doc, 138, "Code", out, sizeof out, err, sizeof err), -1);
	CHECK_STR(err, "XML: unexpected end of document inside <Message>");
}

static void
test_limits(void)
{
	char doc[4096], out[8], err[256];
	size_t n = 0;
	int i;

	/* Depth: exactly XML_MAX_DEPTH levels are fine, one more is an error. */
	for (i = 0; i < XML_MAX_DEPTH; i++)
		n += (size_t)sprintf(doc + n, "<e>");
	n += (size_t)sprintf(doc + n, "v");
	for (i = 0; i < XML_MAX_DEPTH; i++)
		n += (size_t)sprintf(doc + n, "</e>");
	CHECK_INT(xml_text(doc, n, "e/e", out, sizeof out, err, sizeof err), 1);
	n = 0;
	for (i = 0; i <= XML_MAX_DEPTH; i++)
		n += (size_t)sprintf(doc + n, "<e>");
	for (i = 0; i <= XML_MAX_DEPTH; i++)
		n += (size_t)sprintf(doc + n, "</e>");
	CHECK_INT(xml_text(doc, n, "e", out, sizeof out, err, sizeof err), -1);
	CHECK(strstr(err, "deeper") != NULL);

	/* Text longer than the caller's buffer: an error, not a truncation. */
	CHECK_INT(text("<a>1234567</a>", "a", out, sizeof out), 7);
	CHECK_INT(xml_text("<a>12345678</a>", 15, "a", out, sizeof out, err, sizeof err), -1);
	CHECK(strstr(err, "text of a over 7 bytes") != NULL);
	CHECK_STR(out, "");
	CHECK_INT(xml_text("<a>123&amp;5678</a>", 19, "a", out, sizeof out, err, sizeof err), -1);
	CHECK_INT(xml_text("<a>1</a>", 8, "a", out, 0, err, sizeof err), -1);

	/* Documents over XML_MAX_DOC are refused before they are read. */
	{
		size_t big = (size_t)XML_MAX_DOC + 1;
		char *d = malloc(big);

		CHECK(d != NULL);
		if (d != NULL) {
			memset(d, ' ', big);
			memcpy(d, "<a>", 3);
			memcpy(d + big - 4, "</a>", 4);
			CHECK_INT(xml_text(d, big, "a", out, sizeof out, err, sizeof err), -1);
			CHECK(strstr(err, "over") != NULL);
			free(d);
		}
	}
	/* The root name must fit. */
	CHECK_INT(xml_root("<abcdefgh/>", 11, out, sizeof out, err, sizeof err), -1);
	CHECK_INT(xml_root("<p:abcdefg/>", 12, out, sizeof out, err, sizeof err), 7);
}

/* Random damage to a good document under ASan/UBSan: never a crash, always -1, -2 or a sane length. */
static void
test_mutations(void)
{
	char doc[sizeof describe], out[64], err[256];
	unsigned seed = 12345;
	int i, j, weird = 0;

	for (i = 0; i < 20000; i++) {
		memcpy(doc, describe, sizeof describe);
		for (j = 0; j < 1 + i % 4; j++) {
			seed = seed * 1103515245u + 12345u;
			doc[(seed >> 8) % (sizeof describe - 1)] = "<>/&;#x=\"'!?[]a \0"[(seed >> 20) % 17];
		}
		{
			int r = xml_text(doc, sizeof describe - 1, "member/LifecycleState", out, sizeof out,
			    err, sizeof err);
			if (r < -2 || r >= (int)sizeof out || (r >= 0 && strlen(out) != (size_t)r))
				weird++;
		}
	}
	CHECK_INT(weird, 0);
}

int
main(void)
{
	RUN(test_describe);
	RUN(test_empty_list);
	RUN(test_error_response);
	RUN(test_entities);
	RUN(test_structure);
	RUN(test_hostile);
	RUN(test_truncated);
	RUN(test_limits);
	RUN(test_mutations);
	return t_done();
}

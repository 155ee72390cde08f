/* test_aws.c — the pure parts of src/aws.c: endpoints, error classes, lifecycle states, summaries. */
#include <stdio.h>
#include <string.h>

#include "aws.h"
#include "t.h"

static void
test_endpoints(void)
{
	/* China has its own partition and domain; GovCloud is its own partition,
	 * but under amazonaws.com; the ISO partitions have domains of their own. */
	static const struct { const char *service, *region, *host; } good[] = {
		{ "autoscaling", "us-east-1", "autoscaling.us-east-1.amazonaws.com" },
		{ "sts", "eu-west-3", "sts.eu-west-3.amazonaws.com" },
		{ "autoscaling", "cn-north-1", "autoscaling.cn-north-1.amazonaws.com.cn" },
		{ "sts", "cn-northwest-1", "sts.cn-northwest-1.amazonaws.com.cn" },
		{ "autoscaling", "us-gov-west-1", "autoscaling.us-gov-west-1.amazonaws.com" },
		{ "sts", "us-gov-east-1", "sts.us-gov-east-1.amazonaws.com" },
		{ "autoscaling", "us-iso-east-1", "autoscaling.us-iso-east-1.c2s.ic.gov" },
		{ "autoscaling", "us-isob-east-1", "autoscaling.us-isob-east-1.sc2s.sgov.gov" },
	};
	/* A region goes into a host name: nothing but [a-z0-9-]. */
	static const char *const bad_regions[] = { "", "US-EAST-1", "us-east-1.evil.com", "us-east-1/x", "-x" };
	char host[256];
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		t_case = good[i].region;
		CHECK_INT(aws_endpoint_host(good[i].service, good[i].region, host, sizeof host), 0);
		CHECK_STR(host, good[i].host);
	}
	for (i = 0; i < sizeof bad_regions / sizeof bad_regions[0]; i++) {
		t_case = bad_regions[i];
		CHECK_INT(aws_endpoint_host("sts", bad_regions[i], host, sizeof host), -1);
	}
	t_case = NULL;
	CHECK_INT(aws_endpoint_host("autoscaling", "us-east-1", host, 20), -1);
}

static void
test_classify(void)
{
	CHECK_INT(aws_classify(400, "Throttling", "Rate exceeded"), AWS_RETRY);
	CHECK_INT(aws_classify(400, "RequestLimitExceeded", ""), AWS_RETRY);
	CHECK_INT(aws_classify(503, "ServiceUnavailable", ""), AWS_RETRY);
	CHECK_INT(aws_classify(500, "InternalFailure", ""), AWS_RETRY);
	CHECK_INT(aws_classify(502, "", ""), AWS_RETRY);
	CHECK_INT(aws_classify(504, NULL, NULL), AWS_RETRY);
	CHECK_INT(aws_classify(429, "", ""), AWS_RETRY);
	CHECK_INT(aws_classify(400, "IDPCommunicationError", ""), AWS_RETRY);
	CHECK_INT(aws_classify(400, "RequestExpired", "Request has expired."), AWS_RESYNC);
	CHECK_INT(aws_classify(403, "RequestTimeTooSkewed", ""), AWS_RESYNC);
	CHECK_INT(aws_classify(403, "SignatureDoesNotMatch",
	    "Signature expired: 20240101T000000Z is now earlier than 20240101T001000Z"), AWS_RESYNC);
	CHECK_INT(aws_classify(403, "SignatureDoesNotMatch", "Signature not yet current: x"), AWS_RESYNC);
	CHECK_INT(aws_classify(403, "SignatureDoesNotMatch", "The request signature we calculated does not match"),
	    AWS_PERMANENT);
	CHECK_INT(aws_classify(400, "ExpiredToken", ""), AWS_REFRESH);
	CHECK_INT(aws_classify(400, "ExpiredTokenException", ""), AWS_REFRESH);
	CHECK_INT(aws_classify(403, "AccessDenied", "not authorized"), AWS_PERMANENT);
	CHECK_INT(aws_classify(400, "ValidationError", ""), AWS_PERMANENT);
	CHECK_INT(aws_classify(403, "InvalidClientTokenId", ""), AWS_PERMANENT);
	CHECK_INT(aws_classify(404, "", ""), AWS_PERMANENT);
}

static void
test_states(void)
{
	CHECK(aws_state_leaving("Detaching"));
	CHECK(aws_state_leaving("Detached"));
	CHECK(aws_state_leaving("Terminating"));
	CHECK(aws_state_leaving("Terminating:Wait"));
	CHECK(aws_state_leaving("Terminating:Proceed"));
	CHECK(aws_state_leaving("Terminated"));
	CHECK(!aws_state_leaving("InService"));
	CHECK(!aws_state_leaving("Standby"));
	CHECK(!aws_state_leaving("Pending:Wait"));
	CHECK(!aws_state_leaving("EnteringStandby"));
	CHECK(!aws_state_leaving(""));
}

static void
test_describe(void)
{
	struct aws_detach_result r;
	char buf[256];

	memset(&r, 0, sizeof r);
	r.outcome = AWS_DETACHED;
	snprintf(r.group, sizeof r.group, "spot-asg");
	r.attempts = 2;
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "detached from spot-asg");
	r.attempts = 5;
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "detached from spot-asg after 5 requests");
	r.attempts = 1;
	r.outcome = AWS_ALREADY_LEAVING;
	snprintf(r.state, sizeof r.state, "Terminating:Wait");
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "already Terminating:Wait from spot-asg");
	r.outcome = AWS_NOT_IN_ASG;
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "not in an Auto Scaling group");
	r.outcome = AWS_DRY_RUN;
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "dry run (would detach from spot-asg)");
	r.outcome = AWS_FAILED;
	snprintf(r.error, sizeof r.error, "DetachInstances: AccessDenied: no (HTTP 403)");
	aws_outcome_describe(&r, buf, sizeof buf);
	CHECK_STR(buf, "FAILED: DetachInstances: AccessDenied: no (HTTP 403)");
	CHECK_STR(aws_outcome_name(AWS_FAILED), "FAILED");
	CHECK_STR(aws_cred_source_name(AWS_CRED_WEB_IDENTITY), "web identity (IRSA)");
	/* A short buffer is cut, never overrun. */
	aws_outcome_describe(&r, buf, 8);
	CHECK_STR(buf, "FAILED:");
}

/* The EKS token: "k8s-aws-v1." + base64url of botocore's presigned URL (see test_sigv4.c). */
static void
test_eks_token(void)
{
	struct sigv4_credentials cred = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", NULL };
	char out[AWS_EKS_TOKEN_MAX], err[256];

	CHECK_INT(aws_eks_token_build("sts.eu-west-1.amazonaws.com", 1, "prod-eu", "eu-west-1", &cred,
	    1704164645, out, sizeof out, err, sizeof err), 0);
	CHECK_STR(out, "k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtd2VzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxsZXJJ"
	    "ZGVudGl0eSZWZXJzaW9uPTIwMTEtMDYtMTUmWC1BbXotQWxnb3JpdGhtPUFXUzQtSE1BQy1TSEEyNTYmWC1BbXotQ3JlZGVu"
	    "dGlhbD1BS0lERVhBTVBMRSUyRjIwMjQwMTAyJTJGZXUtd2VzdC0xJTJGc3RzJTJGYXdzNF9yZXF1ZXN0JlgtQW16LURhdGU9"
	    "MjAyNDAxMDJUMDMwNDA1WiZYLUFtei1FeHBpcmVzPTYwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCUzQngtazhzLWF3cy1p"
	    "ZCZYLUFtei1TaWduYXR1cmU9OTdiMTBmYTU0MTFjMjdlYzBlMDVlMzA1NWEwMTRjMjg4ZDgxMGZlM2I2MDhjZTc2OTM3NmI1"
	    "NDVjODcwMzAzNQ");
	CHECK_INT(aws_eks_token_build("sts.eu-west-1.amazonaws.com", 1, "prod-eu", "eu-west-1", &cred,
	    1704164645, out, 100, err, sizeof err), -1);
	CHECK(strstr(err, "EKS token: over 99 bytes") != NULL);
	CHECK_INT(aws_eks_token_build("sts.eu-west-1.amazonaws.com", 1, "", "eu-west-1", &cred,
	    1704164645, out, sizeof out, err, sizeof err), -1);
}

static void
test_container_host(void)
{
	static const char *const ok[] = {
		"127.0.0.1", "127.1.2.3", "169.254.170.2", "169.254.170.23", "::1", "fd00:ec2::23",
		"fd00:0ec2:0000::0023",
	};
	static const char *const bad[] = {
		"127.attacker.example", "127.0.0.1.nip.io", "localhost", "169.254.170.24", "169.254.169.254",
		"10.0.0.1", "fd00:ec2::24", "::ffff:127.0.0.1", "", "127.0.0.1 ", "0x7f.0.0.1", "127.1",
	};
	size_t i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		CHECK_INT(aws_container_host_ok(ok[i]), 1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (aws_container_host_ok(bad[i]) != 0)
			CHECK_STR(bad[i], "(refused)");
}

int
main(void)
{
	RUN(test_container_host);
	RUN(test_endpoints);
	RUN(test_classify);
	RUN(test_states);
	RUN(test_describe);
	RUN(test_eks_token);
	return t_done();
}

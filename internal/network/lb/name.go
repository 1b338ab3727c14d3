package lb

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// DefaultSuffix ends every load balancer's hostname, as AWS's NLB names end.
const DefaultSuffix = "amazonaws.com"

var notAlnum = regexp.MustCompile("[^A-Za-z0-9]")

// Hostname is the DNS name of Service ns/name's load balancer in the shape the
// AWS Load Balancer Controller's NLBs have, e.g.
// k8s-test3mix-nginxmix-61febb02e3-ae45b4239866c787.elb.ap-southeast-1.amazonaws.com:
// "k8s-", the namespace and name stripped to letters and digits and cut to 8,
// a 10-digit hash naming the load balancer, and 16 digits AWS adds. Both hashes
// come from the cluster, the Service and its UID, so a Service keeps its name
// while it lives and a new one of the same name gets another.
func Hostname(cluster, region, suffix, ns, name, uid string) string {
	if suffix == "" {
		suffix = DefaultSuffix
	}
	id := sha256.Sum256([]byte(cluster + "/" + ns + "/" + name))
	dns := sha256.Sum256([]byte(cluster + "/" + uid))
	return strings.ToLower("k8s-"+cut(notAlnum.ReplaceAllString(ns, ""), 8)+"-"+cut(notAlnum.ReplaceAllString(name, ""), 8)+
		"-"+hex.EncodeToString(id[:])[:10]+"-"+hex.EncodeToString(dns[:])[:16]) + ".elb." + region + "." + suffix
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

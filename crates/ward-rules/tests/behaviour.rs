//! AdGuard Home's filtering behaviour, one row per documented fact.
//!
//! Each row compiles its lists (one string per list), asks one query and states the
//! verdict AdGuard Home gives: the reason, the deciding rule, and for hosts answers and
//! rewrites, the answer. Query syntax: `name [qtype] [client_ip|-] [client name...]`.

use std::net::IpAddr;

use ward_rules::{ListMask, Reason, RecordType, Request, RuleSet, parse_record_type, rcode_name};

#[derive(Debug, Clone, Copy)]
enum Want {
    NotFound,
    Allowed(&'static str),
    Blocked(&'static str),
    /// A hosts rule with a real address: the rule and the answer addresses.
    Answer(&'static str, &'static [&'static str]),
    /// A rewrite: the deciding rule, the rcode, the CNAME, the records as `TYPE value`.
    Rewrite(
        &'static str,
        &'static str,
        Option<&'static str>,
        &'static [&'static str],
    ),
}
use Want::*;

struct Case {
    what: &'static str,
    lists: &'static [&'static str],
    query: &'static str,
    ctags: &'static [&'static str],
    want: Want,
}

const fn case(
    what: &'static str,
    lists: &'static [&'static str],
    query: &'static str,
    want: Want,
) -> Case {
    Case {
        what,
        lists,
        query,
        ctags: &[],
        want,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // `||`, `|`, `^`, `*`, and patterns without anchors.
    case("|| matches the domain itself", &["||example.org^"], "example.org", Blocked("||example.org^")),
    case("|| matches every subdomain", &["||example.org^"], "a.b.example.org", Blocked("||example.org^")),
    case("|| needs a label boundary", &["||example.org^"], "notexample.org", NotFound),
    case("^ does not match a dot: no parent-domain match", &["||example.org^"], "example.org.evil.com", NotFound),
    case("|| without ^ matches a prefix of a label", &["||example.org"], "example.organic.net", Blocked("||example.org")),
    case("| anchors at the start of the name", &["|example.org^"], "example.org", Blocked("|example.org^")),
    case("| at the start does not match subdomains", &["|example.org^"], "sub.example.org", NotFound),
    case("| at the end anchors the end", &["org|"], "example.org", Blocked("org|")),
    case("| at the end: not before more text", &["org|"], "example.org.net", NotFound),
    case("^ matches the end of the name", &["example^"], "a.example", Blocked("example^")),
    case("^ does not match a dot", &["example^"], "example.org", NotFound),
    case("* matches any run of characters", &["||ads*.example.org^"], "ads-eu-1.example.org", Blocked("||ads*.example.org^")),
    case("* within a || rule keeps the label boundary", &["||ads*.example.org^"], "xads1.example.org", NotFound),
    case("no anchors: matches anywhere in the name", &["-tracker-"], "cdn.my-tracker-eu.net", Blocked("-tracker-")),
    case("a single word is a domain line, not a pattern", &["tracker"], "cdn.mytracker.net", NotFound),
    case("example.org/* means example.org^", &["||example.org/*"], "sub.example.org", Blocked("||example.org/*")),
    // Hosts and domain-only lines.
    case("hosts line blocks the exact name", &["0.0.0.0 ads.example.com"], "ads.example.com", Blocked("0.0.0.0 ads.example.com")),
    case("hosts line never blocks subdomains", &["0.0.0.0 ads.example.com"], "x.ads.example.com", NotFound),
    case("domain line blocks the exact name", &["ads.example.com"], "ads.example.com", Blocked("ads.example.com")),
    case("domain line never blocks subdomains", &["ads.example.com"], "x.ads.example.com", NotFound),
    case("a single-label domain line is a domain", &["localhost"], "localhost", Blocked("localhost")),
    case("_label line is a pattern, matching anywhere", &["_dmarc.example.org"], "x_dmarc.example.org", Blocked("_dmarc.example.org")),
    case("numeric last label: a pattern", &["a.b.123"], "xa.b.1234", Blocked("a.b.123")),
    case("trailing dot: a pattern, not the name", &["example.org."], "example.org", NotFound),
    case("trailing dot pattern matches where a dot follows", &["example.org."], "example.org.evil.com", Blocked("example.org.")),
    case("bare IP line is a substring pattern", &["1.1.104.12"], "21.1.104.123", Blocked("1.1.104.12")),
    case("127.0.0.1 blocks", &["127.0.0.1 ads.example"], "ads.example", Blocked("127.0.0.1 ads.example")),
    case(":: blocks", &[":: ads.example"], "ads.example AAAA", Blocked(":: ads.example")),
    case("::1 blocks", &["::1 ads.example"], "ads.example AAAA", Blocked("::1 ads.example")),
    case("an IPv6-only entry also blocks A", &[":: ads.example"], "ads.example A", Blocked(":: ads.example")),
    case("an IPv4 entry blocks AAAA", &["0.0.0.0 ads.example"], "ads.example AAAA", Blocked("0.0.0.0 ads.example")),
    case("another IPv4 is the A answer", &["192.168.1.20 nas.example"], "nas.example A", Answer("192.168.1.20 nas.example", &["192.168.1.20"])),
    case("another IPv6 is the AAAA answer", &["2001:db8::20 nas.example"], "nas.example AAAA", Answer("2001:db8::20 nas.example", &["2001:db8::20"])),
    case("an IPv4 answer blocks AAAA (no address of that family)", &["192.168.1.20 nas.example"], "nas.example AAAA", Blocked("192.168.1.20 nas.example")),
    case("an address answer blocks other types", &["192.168.1.20 nas.example"], "nas.example MX", Blocked("192.168.1.20 nas.example")),
    case("both families: each query gets its own", &["192.168.1.20 nas.example\n2001:db8::20 nas.example"], "nas.example AAAA", Answer("2001:db8::20 nas.example", &["2001:db8::20"])),
    case("several addresses for one name", &["10.0.0.1 a.example\n10.0.0.2 a.example"], "a.example", Answer("10.0.0.1 a.example", &["10.0.0.1", "10.0.0.2"])),
    case("several names on one hosts line", &["0.0.0.0 a.example b.example"], "b.example", Blocked("0.0.0.0 a.example b.example")),
    case("inline hosts comment", &["0.0.0.0 a.example # tracker"], "a.example", Blocked("0.0.0.0 a.example # tracker")),
    case("inline hosts comment is not a name", &["0.0.0.0 a.example # tracker"], "tracker", NotFound),
    case("tab-separated hosts line", &["0.0.0.0\ta.example"], "a.example", Blocked("0.0.0.0\ta.example")),
    case("hosts IPv6 with a zone", &["fe80::1%lo0 router.lan"], "router.lan AAAA", Answer("fe80::1%lo0 router.lan", &["fe80::1"])),
    case("hosts IPv4-mapped address answers AAAA", &["::ffff:1.2.3.4 mapped.lan"], "mapped.lan AAAA", Answer("::ffff:1.2.3.4 mapped.lan", &["::ffff:1.2.3.4"])),
    // Exceptions and priority.
    case("@@ beats a blocking rule", &["||x.example^\n@@||x.example^"], "x.example", Allowed("@@||x.example^")),
    case("@@ of a parent domain unblocks a subdomain rule", &["||ads.x.example^", "@@||x.example^"], "ads.x.example", Allowed("@@||x.example^")),
    case("$important beats @@", &["@@||x.example^", "||x.example^$important"], "x.example", Blocked("||x.example^$important")),
    case("@@$important beats $important", &["||x.example^$important\n@@||x.example^$important"], "x.example", Allowed("@@||x.example^$important")),
    case("@@ beats a hosts line: network rules come first", &["0.0.0.0 x.example", "@@||x.example^"], "x.example", Allowed("@@||x.example^")),
    case("a blocking network rule beats a hosts answer", &["10.0.0.1 x.example", "||x.example^"], "x.example", Blocked("||x.example^")),
    case("of two blocking rules the one with more modifiers decides", &["||x.example^\n||x.example^$dnstype=A"], "x.example A", Blocked("||x.example^$dnstype=A")),
    case("of equal rules the first written decides", &["||x.example^", "||example^"], "x.example", Blocked("||x.example^")),
    // $dnsrewrite.
    case("rewrite shorthand IPv4", &["||x.example^$dnsrewrite=1.2.3.4"], "x.example", Rewrite("||x.example^$dnsrewrite=1.2.3.4", "NOERROR", None, &["A 1.2.3.4"])),
    case("rewrite shorthand IPv6", &["||x.example^$dnsrewrite=2001:db8::1"], "x.example AAAA", Rewrite("||x.example^$dnsrewrite=2001:db8::1", "NOERROR", None, &["AAAA 2001:db8::1"])),
    case("rewrite shorthand name is a CNAME", &["||x.example^$dnsrewrite=y.example"], "x.example", Rewrite("||x.example^$dnsrewrite=y.example", "NOERROR", Some("y.example"), &[])),
    case("rewrite NXDOMAIN", &["||x.example^$dnsrewrite=NXDOMAIN"], "x.example", Rewrite("||x.example^$dnsrewrite=NXDOMAIN", "NXDOMAIN", None, &[])),
    case("rewrite REFUSED", &["||x.example^$dnsrewrite=REFUSED"], "x.example", Rewrite("||x.example^$dnsrewrite=REFUSED", "REFUSED", None, &[])),
    case("rewrite NOERROR: an empty answer", &["||x.example^$dnsrewrite=NOERROR"], "x.example", Rewrite("||x.example^$dnsrewrite=NOERROR", "NOERROR", None, &[])),
    case("rewrite full A", &["||x.example^$dnsrewrite=NOERROR;A;1.2.3.4"], "x.example", Rewrite("||x.example^$dnsrewrite=NOERROR;A;1.2.3.4", "NOERROR", None, &["A 1.2.3.4"])),
    case("rewrite full AAAA", &["||x.example^$dnsrewrite=NOERROR;AAAA;::1"], "x.example AAAA", Rewrite("||x.example^$dnsrewrite=NOERROR;AAAA;::1", "NOERROR", None, &["AAAA ::1"])),
    case("rewrite full CNAME", &["||x.example^$dnsrewrite=NOERROR;CNAME;y.example"], "x.example", Rewrite("||x.example^$dnsrewrite=NOERROR;CNAME;y.example", "NOERROR", Some("y.example"), &[])),
    case("rewrite full MX", &["||x.example^$dnsrewrite=NOERROR;MX;10 mail.example"], "x.example MX", Rewrite("||x.example^$dnsrewrite=NOERROR;MX;10 mail.example", "NOERROR", None, &["MX 10 mail.example"])),
    case("rewrite full TXT", &["||x.example^$dnsrewrite=NOERROR;TXT;hello world"], "x.example TXT", Rewrite("||x.example^$dnsrewrite=NOERROR;TXT;hello world", "NOERROR", None, &["TXT hello world"])),
    case("rewrite full PTR", &["||4.3.2.1.in-addr.arpa^$dnsrewrite=NOERROR;PTR;host.example"], "4.3.2.1.in-addr.arpa PTR", Rewrite("||4.3.2.1.in-addr.arpa^$dnsrewrite=NOERROR;PTR;host.example", "NOERROR", None, &["PTR host.example."])),
    case("rewrite full SRV", &["||_sip._tcp.example^$dnsrewrite=NOERROR;SRV;10 60 5060 sip.example"], "_sip._tcp.example SRV", Rewrite("||_sip._tcp.example^$dnsrewrite=NOERROR;SRV;10 60 5060 sip.example", "NOERROR", None, &["SRV 10 60 5060 sip.example"])),
    case("rewrite full HTTPS", &["||x.example^$dnsrewrite=NOERROR;HTTPS;1 . alpn=h3"], "x.example HTTPS", Rewrite("||x.example^$dnsrewrite=NOERROR;HTTPS;1 . alpn=h3", "NOERROR", None, &["HTTPS 1 . alpn=h3"])),
    case("rewrite full SVCB", &["||x.example^$dnsrewrite=NOERROR;SVCB;0 svc.example"], "x.example SVCB", Rewrite("||x.example^$dnsrewrite=NOERROR;SVCB;0 svc.example", "NOERROR", None, &["SVCB 0 svc.example"])),
    case("rewrite full NXDOMAIN;;", &["||x.example^$dnsrewrite=NXDOMAIN;;"], "x.example", Rewrite("||x.example^$dnsrewrite=NXDOMAIN;;", "NXDOMAIN", None, &[])),
    case("records of several rewrites add up", &["||x.example^$dnsrewrite=1.2.3.4\n||x.example^$dnsrewrite=1.2.3.5"], "x.example", Rewrite("||x.example^$dnsrewrite=1.2.3.4", "NOERROR", None, &["A 1.2.3.4", "A 1.2.3.5"])),
    case("a CNAME rewrite wins over other records", &["||x.example^$dnsrewrite=1.2.3.4\n||x.example^$dnsrewrite=y.example"], "x.example", Rewrite("||x.example^$dnsrewrite=y.example", "NOERROR", Some("y.example"), &[])),
    case("rewrite beats a $important block", &["||x.example^$important", "||x.example^$dnsrewrite=1.2.3.4"], "x.example", Rewrite("||x.example^$dnsrewrite=1.2.3.4", "NOERROR", None, &["A 1.2.3.4"])),
    case("a plain @@ does not cancel a rewrite", &["||x.example^$dnsrewrite=1.2.3.4", "@@||x.example^"], "x.example", Rewrite("||x.example^$dnsrewrite=1.2.3.4", "NOERROR", None, &["A 1.2.3.4"])),
    case("@@$dnsrewrite cancels every rewrite", &["||x.example^$dnsrewrite=1.2.3.4", "@@||x.example^$dnsrewrite"], "x.example", NotFound),
    case("@@$dnsrewrite=value cancels that value only", &["||x.example^$dnsrewrite=1.2.3.4\n||x.example^$dnsrewrite=1.2.3.5", "@@||x.example^$dnsrewrite=1.2.3.4"], "x.example", Rewrite("||x.example^$dnsrewrite=1.2.3.5", "NOERROR", None, &["A 1.2.3.5"])),
    case("a cancelled rewrite leaves the block", &["||x.example^$dnsrewrite=1.2.3.4\n||x.example^", "@@||x.example^$dnsrewrite"], "x.example", Blocked("||x.example^")),
    case("a rewrite of a name to itself is ignored", &["||x.example^$dnsrewrite=x.example"], "x.example", NotFound),
    case("rewrite with $dnstype applies to that type only", &["||x.example^$dnstype=AAAA,dnsrewrite=NXDOMAIN"], "x.example A", NotFound),
    // $badfilter.
    case("$badfilter disables the rule it names", &["||x.example^", "||x.example^$badfilter"], "x.example", NotFound),
    case("$badfilter needs the same modifiers", &["||x.example^$important", "||x.example^$badfilter"], "x.example", Blocked("||x.example^$important")),
    case("$badfilter of a rule with modifiers", &["||x.example^$dnstype=A", "||x.example^$dnstype=A,badfilter"], "x.example", NotFound),
    case("$badfilter of a wildcard rule", &["||ads*.example^", "||ads*.example^$badfilter"], "ads1.example", NotFound),
    case("$badfilter leaves other rules", &["||x.example^\n@@||x.example^$badfilter"], "x.example", Blocked("||x.example^")),
    // $client.
    case("$client IP matches", &["||x.example^$client=127.0.0.2"], "x.example A 127.0.0.2", Blocked("||x.example^$client=127.0.0.2")),
    case("$client IP: other clients pass", &["||x.example^$client=127.0.0.2"], "x.example A 127.0.0.3", NotFound),
    case("$client CIDR", &["||x.example^$client=192.168.20.0/24"], "x.example A 192.168.20.7", Blocked("||x.example^$client=192.168.20.0/24")),
    case("$client CIDR: outside", &["||x.example^$client=192.168.20.0/24"], "x.example A 192.168.21.7", NotFound),
    case("$client IPv4-mapped IPv6 client", &["||x.example^$client=192.168.20.0/24"], "x.example A ::ffff:192.168.20.7", Blocked("||x.example^$client=192.168.20.0/24")),
    case("$client name in quotes", &["||x.example^$client='Kids tablet'"], "x.example A - Kids tablet", Blocked("||x.example^$client='Kids tablet'")),
    case("$client name: another name passes", &["||x.example^$client='Kids tablet'"], "x.example A - Office laptop", NotFound),
    case("$client ~ negation", &["||x.example^$client=~127.0.0.2"], "x.example A 127.0.0.3", Blocked("||x.example^$client=~127.0.0.2")),
    case("$client ~ negation: the excluded client passes", &["||x.example^$client=~127.0.0.2"], "x.example A 127.0.0.2", NotFound),
    case("$client | list", &["||x.example^$client=127.0.0.2|127.0.0.4"], "x.example A 127.0.0.4", Blocked("||x.example^$client=127.0.0.2|127.0.0.4")),
    case("$client without a known client does not apply", &["||x.example^$client=127.0.0.2"], "x.example", NotFound),
    case("$client exception for one client", &["||x.example^", "@@||x.example^$client=127.0.0.5"], "x.example A 127.0.0.5", Allowed("@@||x.example^$client=127.0.0.5")),
    // $denyallow.
    case("$denyallow blocks other names", &["||example^$denyallow=good.example"], "bad.example", Blocked("||example^$denyallow=good.example")),
    case("$denyallow spares the listed domain", &["||example^$denyallow=good.example"], "good.example", NotFound),
    case("$denyallow spares its subdomains", &["||example^$denyallow=good.example|fine.example"], "cdn.fine.example", NotFound),
    case("$denyallow narrows a * rule", &["*$denyallow=good.example"], "anything.example", Blocked("*$denyallow=good.example")),
    // $dnstype.
    case("$dnstype matches its type", &["||x.example^$dnstype=AAAA"], "x.example AAAA", Blocked("||x.example^$dnstype=AAAA")),
    case("$dnstype: other types pass", &["||x.example^$dnstype=AAAA"], "x.example A", NotFound),
    case("$dnstype | list", &["||x.example^$dnstype=A|AAAA"], "x.example AAAA", Blocked("||x.example^$dnstype=A|AAAA")),
    case("$dnstype | list: another type passes", &["||x.example^$dnstype=A|AAAA"], "x.example MX", NotFound),
    case("$dnstype ~ negation", &["||x.example^$dnstype=~A"], "x.example HTTPS", Blocked("||x.example^$dnstype=~A")),
    case("$dnstype ~ negation: the excluded type passes", &["||x.example^$dnstype=~A"], "x.example A", NotFound),
    // Case and names.
    case("rule names are case-insensitive", &["||EXAMPLE.Org^"], "sub.example.org", Blocked("||EXAMPLE.Org^")),
    case("query names are case-insensitive", &["||example.org^"], "Sub.EXAMPLE.org", Blocked("||example.org^")),
    case("modifier names are as written: $IMPORTANT is none, its rule skipped", &["@@||x.example^\n||x.example^$IMPORTANT"], "x.example AAAA", Allowed("@@||x.example^")),
    case("an empty $client= is skipped", &["||x.example^$client="], "x.example A 10.0.0.1", NotFound),
    case("negated content types only: the rule applies", &["||x.example^$~script,~image"], "x.example", Blocked("||x.example^$~script,~image")),
    case("a content type: not a DNS query's, the rule is skipped", &["||x.example^$script"], "x.example", NotFound),
    case("hosts names are case-insensitive", &["0.0.0.0 Ads.Example.COM"], "ads.example.com", Blocked("0.0.0.0 Ads.Example.COM")),
    case("one trailing dot of the query is removed", &["||example.org^"], "example.org.", Blocked("||example.org^")),
    case("IDN rules match punycode queries", &["||пример.рф^"], "www.xn--e1afmkfd.xn--p1ai", Blocked("||пример.рф^")),
    case("IDN queries match punycode rules", &["||xn--e1afmkfd.xn--p1ai^"], "www.пример.рф", Blocked("||xn--e1afmkfd.xn--p1ai^")),
    case("IDN hosts lines", &["0.0.0.0 пример.рф"], "xn--e1afmkfd.xn--p1ai", Blocked("0.0.0.0 пример.рф")),
    // Rules AdGuard Home ignores as a whole.
    case("$third-party is ignored", &["||x.example^$third-party"], "x.example", NotFound),
    case("$domain= is ignored", &["||x.example^$domain=a.example"], "x.example", NotFound),
    case("$script is ignored", &["||x.example^$script"], "x.example", NotFound),
    case("$csp is ignored", &["||x.example^$csp=script-src 'none'"], "x.example", NotFound),
    case("$redirect is ignored", &["||x.example^$redirect=noopjs"], "x.example", NotFound),
    case("$all is ignored", &["||x.example^$all"], "x.example", NotFound),
    case("$1p is ignored", &["||x.example^$1p"], "x.example", NotFound),
    case("blocking $document is ignored", &["||x.example^$document"], "x.example", NotFound),
    case("an exception with $document is ignored too", &["||x.example^\n@@||x.example^$document"], "x.example", Blocked("||x.example^")),
    case("one unknown modifier spoils the rule", &["||x.example^$important,popup"], "x.example", NotFound),
    case("an unknown modifier", &["||x.example^$frobnicate"], "x.example", NotFound),
    case("cosmetic ## rules are ignored", &["x.example##.banner"], "x.example", NotFound),
    case("cosmetic #@# rules are ignored", &["x.example#@#.banner"], "x.example", NotFound),
    case("cosmetic #$# rules are ignored", &["x.example#$#body { color: red }"], "x.example", NotFound),
    case("scriptlets #%# are ignored", &["x.example#%#//scriptlet('abort-on-property-read', 'x')"], "x.example", NotFound),
    case("! comments", &["! ||x.example^"], "x.example", NotFound),
    case("# comments", &["# ||x.example^"], "x.example", NotFound),
    case("CRLF line ends", &["! title\r\n||x.example^\r\n||y.example^\r\n"], "x.example", Blocked("||x.example^")),
    case("blank lines and surrounding spaces", &["\n\n   ||x.example^   \n\n"], "x.example", Blocked("||x.example^")),
    case("a bad line does not stop the list", &["||x.example^$bogus=1\n/(unclosed/\n*\n||y.example^"], "y.example", Blocked("||y.example^")),
    case("too wide: * alone is skipped", &["*"], "x.example", NotFound),
    case("too wide: a two-character pattern is skipped", &["ab"], "ab.example", NotFound),
    // Regular expressions.
    case("regex rule", &[r"/^ads[0-9]+\./"], "ads12.example.com", Blocked(r"/^ads[0-9]+\./")),
    case("regex rule: no match", &[r"/^ads[0-9]+\./"], "ads.example.com", NotFound),
    case("regex is case-insensitive", &[r"/^ADS[0-9]+\./"], "ads12.example.com", Blocked(r"/^ADS[0-9]+\./")),
    case("regex alternation (RE2 syntax)", &[r"/(?:tracker|pixel)\.example$/"], "eu.pixel.example", Blocked(r"/(?:tracker|pixel)\.example$/")),
    case("regex with no literal", &[r"/^[a-z]{40,}\./"], "abcdefghijabcdefghijabcdefghijabcdefghijk.example", Blocked(r"/^[a-z]{40,}\./")),
    case("regex exception", &["||example.org^", r"@@/^cdn[0-9]\.example\.org$/"], "cdn1.example.org", Allowed(r"@@/^cdn[0-9]\.example\.org$/")),
    case("an invalid regex is skipped", &[r"/ads(/", "||y.example^"], "ads(.example", NotFound),
];

/// Parses a query line: `name [qtype] [client_ip|-] [client name...]`.
fn request<'a>(query: &'a str, ctags: &'a [String]) -> (Request<'a>, Option<String>) {
    let mut words = query.split(' ');
    let name = words.next().unwrap();
    let qtype = words
        .next()
        .map_or(RecordType::A, |t| parse_record_type(t).unwrap());
    let mut req = Request::new(name, qtype).client_tags(ctags);
    if let Some(ip) = words.next().filter(|w| *w != "-") {
        req = req.client_ip(ip.parse::<IpAddr>().unwrap());
    }
    let rest: Vec<&str> = words.collect();
    (req, (!rest.is_empty()).then(|| rest.join(" ")))
}

fn run(c: &Case) -> Result<(), String> {
    let mut b = RuleSet::builder();
    for (i, text) in c.lists.iter().enumerate() {
        b.add_list(format!("list{i}"), *text).unwrap();
    }
    let rules = b.build();
    let tags: Vec<String> = c.ctags.iter().map(|s| (*s).to_owned()).collect();
    let (mut req, client_name) = request(c.query, &tags);
    if let Some(n) = &client_name {
        req = req.client_name(n);
    }
    let v = rules.check(&req, &ListMask::ALL);
    let first = v.rules.first().map(|m| rules.rule_text(m.rule));
    let ips: Vec<String> = v.ip_addrs.iter().map(ToString::to_string).collect();
    let got = format!(
        "{:?} rule={first:?} ips={ips:?} rewrite={:?}",
        v.reason,
        v.rewrite.as_ref().map(|rw| (
            rcode_name(rw.rcode),
            rw.cname.clone(),
            rw.records
                .iter()
                .map(|r| format!("{} {r}", r.record_type()))
                .collect::<Vec<_>>()
        ))
    );
    let ok = match c.want {
        NotFound => v.reason == Reason::NotFilteredNotFound && v.rules.is_empty(),
        Allowed(rule) => v.reason == Reason::NotFilteredAllowList && first == Some(rule),
        Blocked(rule) => {
            v.reason == Reason::FilteredBlockList && first == Some(rule) && ips.is_empty()
        }
        Answer(rule, want_ips) => {
            v.reason == Reason::FilteredBlockList && first == Some(rule) && ips == want_ips
        }
        Rewrite(rule, rcode, cname, records) => {
            let rw = v.rewrite.as_ref();
            v.reason == Reason::RewrittenRule
                && first == Some(rule)
                && rw.map(|r| rcode_name(r.rcode)).as_deref() == Some(rcode)
                && rw.and_then(|r| r.cname.as_deref()) == cname
                && rw.map(|r| {
                    r.records
                        .iter()
                        .map(|r| format!("{} {r}", r.record_type()))
                        .collect::<Vec<_>>()
                }) == Some(records.iter().map(|s| (*s).to_owned()).collect())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{}: {:?} -> want {:?}, got {got}",
            c.what, c.query, c.want
        ))
    }
}

#[test]
fn adguard_home_behaviour() {
    let failures: Vec<String> = CASES.iter().filter_map(|c| run(c).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn ctag_rules() {
    let rules = RuleSet::from_rules(
        "tags",
        "||x.example^$ctag=device_phone|user_child\n||y.example^$ctag=~user_admin\n",
    );
    let child = vec!["user_child".to_owned()];
    let admin = vec!["user_admin".to_owned()];
    let check = |name, tags: &[String]| {
        rules
            .check(
                &Request::new(name, RecordType::A).client_tags(tags),
                &ListMask::ALL,
            )
            .reason
    };
    assert_eq!(check("x.example", &child), Reason::FilteredBlockList);
    assert_eq!(check("x.example", &admin), Reason::NotFilteredNotFound);
    assert_eq!(check("x.example", &[]), Reason::NotFilteredNotFound);
    assert_eq!(check("y.example", &child), Reason::FilteredBlockList);
    assert_eq!(check("y.example", &[]), Reason::FilteredBlockList);
    assert_eq!(check("y.example", &admin), Reason::NotFilteredNotFound);
}

#[test]
fn skipped_lines_are_counted_by_reason() {
    use ward_rules::SkipReason::*;
    let text = "! comment\n# comment\n\n||ok.example^\nx.example##.ad\n||a.example^$third-party\n||b.example^$dnstype=NOPE\n*\n/(/\n0.0.0.0 ok2.example\nok3.example\n";
    let rules = RuleSet::from_rules("mixed", text);
    let (_, _, s) = rules.lists().next().unwrap();
    assert_eq!((s.lines, s.rules, s.comments, s.blank), (11, 3, 2, 1));
    for (reason, n) in [
        (Cosmetic, 1),
        (UnsupportedModifier, 1),
        (InvalidModifier, 1),
        (TooWide, 1),
        (InvalidRegex, 1),
    ] {
        assert_eq!(s.skipped(reason), n, "{reason}");
    }
    assert_eq!(s.skipped_total(), 5);
}

#[test]
fn invalid_utf8_lines_are_skipped_not_fatal() {
    let mut text = b"||a.example^\n".to_vec();
    text.extend_from_slice(b"||\xff\xfe.example^\n||b.example^\n");
    let mut b = RuleSet::builder();
    b.add_list("bytes", text).unwrap();
    let rules = b.build();
    let (_, _, s) = rules.lists().next().unwrap();
    assert_eq!(
        (s.rules, s.skipped(ward_rules::SkipReason::InvalidUtf8)),
        (2, 1)
    );
    assert_eq!(
        rules
            .check(&Request::new("b.example", RecordType::A), &ListMask::ALL)
            .reason,
        Reason::FilteredBlockList
    );
}

#[test]
fn list_masks_select_lists() {
    let mut b = RuleSet::builder();
    let ads = b.add_list("ads", "||ads.example^\n").unwrap();
    let social = b
        .add_list("social", "||social.example^\n||ads.example^$badfilter\n")
        .unwrap();
    let rules = b.build();
    let only_ads: ListMask = [ads].into_iter().collect();
    let both: ListMask = [ads, social].into_iter().collect();
    let check =
        |name, mask: &ListMask| rules.check(&Request::new(name, RecordType::A), mask).reason;
    assert_eq!(check("ads.example", &only_ads), Reason::FilteredBlockList);
    assert_eq!(
        check("social.example", &only_ads),
        Reason::NotFilteredNotFound
    );
    // The $badfilter lives in the social list: it applies only where that list does.
    assert_eq!(check("ads.example", &both), Reason::NotFilteredNotFound);
    assert_eq!(check("social.example", &both), Reason::FilteredBlockList);
    assert_eq!(
        check("ads.example", &ListMask::none()),
        Reason::NotFilteredNotFound
    );
}

#[test]
fn custom_rules_layer_decides_with_the_lists() {
    let lists = RuleSet::from_rules("big", "||ads.example^\n||tracker.example^\n");
    let custom = RuleSet::from_rules("custom", "@@||ads.example^\n||kids-only.example^\n");
    let layers = [
        ward_rules::Layer {
            rules: &lists,
            mask: &ListMask::ALL,
        },
        ward_rules::Layer {
            rules: &custom,
            mask: &ListMask::ALL,
        },
    ];
    let v = ward_rules::check(&layers, &Request::new("ads.example", RecordType::A));
    assert_eq!(v.reason, Reason::NotFilteredAllowList);
    assert_eq!(v.rules[0].layer, 1);
    assert_eq!(custom.rule_text(v.rules[0].rule), "@@||ads.example^");
    let v = ward_rules::check(&layers, &Request::new("tracker.example", RecordType::A));
    assert_eq!((v.reason, v.rules[0].layer), (Reason::FilteredBlockList, 0));
    let v = ward_rules::check(&layers, &Request::new("kids-only.example", RecordType::A));
    assert_eq!((v.reason, v.rules[0].layer), (Reason::FilteredBlockList, 1));
}

#[test]
fn verdicts_cite_list_and_line() {
    let mut b = RuleSet::builder();
    b.add_list("first.txt", "||a.example^\n").unwrap();
    b.add_list("easylist.txt", "! header\n\n! more\n||ads.example^\n")
        .unwrap();
    let rules = b.build();
    let v = rules.check(
        &Request::new("x.ads.example", RecordType::A),
        &ListMask::ALL,
    );
    let m = v.rules[0];
    assert_eq!(rules.list_name(m.rule.list), "easylist.txt");
    assert_eq!(rules.rule_line(m.rule), 4);
    assert_eq!(rules.rule_text(m.rule), "||ads.example^");
}

#[test]
fn rule_sets_are_send_sync_and_shared() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<RuleSet>();
    let rules = RuleSet::from_rules("l", "||ads.example^\n");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let rules = rules.clone();
            std::thread::spawn(move || {
                rules
                    .check(&Request::new("ads.example", RecordType::A), &ListMask::ALL)
                    .reason
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Reason::FilteredBlockList);
    }
    assert!(rules.memory_usage() > rules.text_bytes());
}

#[test]
fn overlong_names_are_skipped_not_truncated() {
    // 254 characters in labels of 63: one more than a DNS name can have.
    let long = format!("{0}.{0}.{0}.{1}.com", "a".repeat(63), "b".repeat(58));
    assert_eq!(long.len(), 254);
    let text = format!("0.0.0.0 {long}\n||{long}^\n||ok.example^\n");
    let rules = RuleSet::from_rules("long", &text);
    let (_, _, s) = rules.lists().next().unwrap();
    assert_eq!(s.rules, 1, "{s:?}");
    assert_eq!(
        s.skipped(ward_rules::SkipReason::InvalidPattern),
        2,
        "{s:?}"
    );
    let v = rules.check(&Request::new(&long[4..], RecordType::A), &ListMask::ALL);
    assert_eq!(v.reason, Reason::NotFilteredNotFound);
}

#[test]
fn deep_names_reach_every_suffix() {
    let rules = RuleSet::from_rules("deep", "||example.com^\n");
    // 120 labels: the rule's name is the 120th suffix.
    let name = format!("{}example.com", "a.".repeat(120));
    assert!(name.len() <= 253);
    let v = rules.check(&Request::new(&name, RecordType::A), &ListMask::ALL);
    assert_eq!(v.reason, Reason::FilteredBlockList);
}

#[test]
fn a_byte_order_mark_does_not_hide_the_first_rule() {
    let rules = RuleSet::from_rules("bom", "\u{feff}||first.example^\n||second.example^\n");
    let v = rules.check(
        &Request::new("first.example", RecordType::A),
        &ListMask::ALL,
    );
    assert_eq!(v.reason, Reason::FilteredBlockList);
    assert_eq!(rules.rule_text(v.rules[0].rule), "||first.example^");
    assert_eq!(rules.rule_line(v.rules[0].rule), 1);
}

/// Regression: found by `cargo fuzz run rule_lines` (a word of ~130 dots from a list line,
/// queried). The lookup kept its probes in a `u128` mask, on the premise that a
/// 253-character name has at most 127 labels; a name with empty labels has up to 253
/// suffixes, and the shift overflowed.
#[test]
fn names_with_more_than_128_suffixes_do_not_panic() {
    let rules = RuleSet::from_rules("l", "||example.com^\n");
    // 128 dots: 129 label suffixes, one more than the probe mask has bits for.
    let name = format!("{}example.com", ".".repeat(127));
    assert!(name.len() <= 253);
    let v = rules.check(&Request::new(&name, RecordType::A), &ListMask::ALL);
    // AdGuard's `^([a-z0-9-_.]+\.)?example\.com` matches it: `||` is satisfied by the dots.
    assert_eq!(v.reason, Reason::FilteredBlockList);
    // Any rule set panics, even one with no rule for the name: the mask is tested for
    // every suffix, not only for those the Bloom filter lets through.
    let other = RuleSet::from_rules("l", "||other.test^\n");
    let v = other.check(
        &Request::new(&".".repeat(200), RecordType::A),
        &ListMask::ALL,
    );
    assert_eq!(v.reason, Reason::NotFilteredNotFound);
}

#[test]
fn a_leading_empty_label_is_not_a_subdomain() {
    // AdGuard's `||` is `^([a-z0-9-_.]+\.)?`: a dot with nothing before it is no label.
    let rules = RuleSet::from_rules("l", "||example.com^\n||glob*.example^\n");
    let check = |name| {
        rules
            .check(&Request::new(name, RecordType::A), &ListMask::ALL)
            .reason
    };
    assert_eq!(check(".example.com"), Reason::NotFilteredNotFound);
    assert_eq!(check("a..example.com"), Reason::FilteredBlockList);
    assert_eq!(check(".glob1.example"), Reason::NotFilteredNotFound);
    assert_eq!(check("a.glob1.example"), Reason::FilteredBlockList);
}

/// Regression (issue 13, point 5): a 20,000-character line took seconds to compile (the
/// prefilter's automaton over its one long literal). No name is longer than 253
/// characters, so a pattern beyond 1,024 bytes can match nothing: it is skipped as
/// `invalid_pattern` before any matcher is built, and the rules around it still apply.
#[test]
fn a_pattern_longer_than_any_name_is_skipped_before_it_is_compiled() {
    use ward_rules::SkipReason;
    let shapes = [
        "a".repeat(20_000),
        format!("||{}^", "a".repeat(20_000)),
        format!("{}*", "ab.".repeat(7_000)),
        format!("|{}$important", "x-".repeat(10_000)),
        format!("@@{}", "a*".repeat(10_000)),
        format!("/{}/", "a".repeat(20_000)),
    ];
    for long in &shapes {
        let text = format!("||before.example^\n{long}\n||after.example^\n");
        let started = std::time::Instant::now();
        let rules = RuleSet::from_rules("long", &text);
        let elapsed = started.elapsed();
        let (_, _, s) = rules.lists().next().unwrap();
        assert_eq!(
            (s.rules, s.skipped(SkipReason::InvalidPattern)),
            (2, 1),
            "{}...",
            &long[..40]
        );
        assert!(elapsed.as_millis() < 200, "{}...: {elapsed:?}", &long[..40]);
        for name in ["before.example", "after.example"] {
            let v = rules.check(&Request::new(name, RecordType::A), &ListMask::ALL);
            assert_eq!(v.reason, Reason::FilteredBlockList, "{name}");
        }
    }
    // 1,024 bytes is still a pattern (a glob a long name can match).
    let edge = format!("{}*", "a".repeat(1_023));
    let rules = RuleSet::from_rules("edge", &edge);
    let (_, _, s) = rules.lists().next().unwrap();
    assert_eq!((s.rules, s.skipped_total()), (1, 0));
}

#!/usr/bin/python3
"""Write the received-report corpus: mail messages shaped like the reports
big senders send (DMARC aggregate in the RFC 7489 and the RFC 9990 schema,
gzip, zip and plain; TLS-RPT JSON; ARF), each with the figures reportd must
find in it, and hostile ones it must refuse.

    good/NAME.eml       expected.txt has "NAME<TAB>JSON" (posternctl show
                        reports -j's line for it)
    hostile/NAME.eml    refused, within fixed limits

Deterministic (gzip mtime 0, fixed zip dates): running it again rewrites
the same bytes.  Run from anywhere: python3 regress/data/reports/mkcorpus.py
"""
import base64
import gzip
import io
import json
import os
import struct
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD = os.path.join(HERE, "good")
HOSTILE = os.path.join(HERE, "hostile")
expected = []


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def zipped(name, data, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = method
        z.writestr(info, data)
    return b.getvalue()


def b64lines(data, width=76, crlf=False):
    s = base64.b64encode(data).decode()
    nl = "\r\n" if crlf else "\n"
    return nl.join(s[i:i + width] for i in range(0, len(s), width)) + nl


def mail(subject, parts, frm="noreply-dmarc-support@google.com",
         to="dmarc-reports@example.org", boundary="000000000000abcdef0123",
         crlf=False, extra_headers=""):
    """parts: list of (headers, body-text).  One part: a single-part
    message with those headers."""
    nl = "\r\n" if crlf else "\n"
    head = ("From: %s%sTo: %s%sSubject: %s%sDate: Mon, 7 Dec 2026 "
            "10:00:00 +0000%sMessage-ID: <%s@corpus.test>%sMIME-Version: "
            "1.0%s" % (frm, nl, to, nl, subject, nl, nl,
                       zlib.crc32(subject.encode()), nl, nl))
    head += extra_headers
    if len(parts) == 1:
        h, body = parts[0]
        return (head + h.replace("\n", nl) + nl + body).encode()
    out = head + ('Content-Type: multipart/mixed; boundary="%s"%s%s'
                  % (boundary, nl, nl))
    out += "This is a multi-part message in MIME format." + nl
    for h, body in parts:
        out += "--" + boundary + nl + h.replace("\n", nl) + nl + body + nl
    out += "--" + boundary + "--" + nl
    return out.encode()


def write(dirname, name, data):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name + ".eml"), "wb") as f:
        f.write(data)


def good(name, data, figures):
    write(GOOD, name, data)
    expected.append((name, json.dumps(figures, separators=(",", ":"),
                                       ensure_ascii=False)))


def dmarc_fig(org, rid, domain, begin, end, rows):
    return {"type": "dmarc", "org": org, "report_id": rid, "domain": domain,
            "begin": begin, "end": end,
            "rows": [{"source_ip": ip, "count": n, "disposition": d,
                      "dkim": k, "spf": s} for ip, n, d, k, s in rows]}


def old_xml(org, rid, domain, begin, end, rows, head="", extra=""):
    """RFC 7489 appendix C, as Google sends it."""
    x = head + '<?xml version="1.0" encoding="UTF-8" ?>\n<feedback>\n'
    x += ("  <report_metadata>\n    <org_name>%s</org_name>\n"
          "    <email>noreply-dmarc-support@google.com</email>\n"
          "    <extra_contact_info>https://support.google.com/a/answer/2466580"
          "</extra_contact_info>\n    <report_id>%s</report_id>\n"
          "    <date_range>\n      <begin>%d</begin>\n      <end>%d</end>\n"
          "    </date_range>\n  </report_metadata>\n" % (org, rid, begin,
                                                         end))
    x += ("  <policy_published>\n    <domain>%s</domain>\n"
          "    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>none</p>\n"
          "    <sp>none</sp>\n    <pct>100</pct>\n    <np>none</np>\n"
          "  </policy_published>\n" % domain)
    for ip, n, d, k, s in rows:
        x += ("  <record>\n    <row>\n      <source_ip>%s</source_ip>\n"
              "      <count>%d</count>\n      <policy_evaluated>\n"
              "        <disposition>%s</disposition>\n"
              "        <dkim>%s</dkim>\n        <spf>%s</spf>\n"
              "      </policy_evaluated>\n    </row>\n"
              "    <identifiers>\n      <header_from>%s</header_from>\n"
              "    </identifiers>\n    <auth_results>\n      <dkim>\n"
              "        <domain>%s</domain>\n        <result>%s</result>\n"
              "        <selector>s1</selector>\n      </dkim>\n"
              "      <spf>\n        <domain>%s</domain>\n"
              "        <result>%s</result>\n      </spf>\n"
              "    </auth_results>\n  </record>\n"
              % (ip, n, d, k, s, domain, domain, k, domain, s))
    x += extra + "</feedback>\n"
    return x.encode()


def main():
    # --- Google-like: RFC 7489 schema, no namespace, gzip, base64 ---
    rows = [("209.85.220.41", 12, "none", "pass", "pass"),
            ("198.51.100.7", 3, "none", "fail", "fail")]
    x = old_xml("google.com", "11223344556677889900", "example.org",
                1796515200, 1796601599, rows)
    fn = "google.com!example.org!1796515200!1796601599.xml.gz"
    good("google-gzip", mail(
        "Report domain: example.org Submitter: google.com Report-ID: "
        "11223344556677889900",
        [("Content-Type: text/plain; charset=\"UTF-8\"\n"
          "Content-Transfer-Encoding: 7bit\n", "\n"),
         ('Content-Type: application/gzip; name="%s"\n'
          'Content-Disposition: attachment; filename="%s"\n'
          "Content-Transfer-Encoding: base64\n" % (fn, fn),
          b64lines(gz(x)))]),
        dmarc_fig("google.com", "11223344556677889900", "example.org",
                  1796515200, 1796601599, rows))

    # --- Microsoft-like: xsd/xsi attributes, version, extra elements,
    #     policy override reason, CRLF, a single-part gzip message ---
    rows = [("40.107.22.51", 1, "none", "pass", "pass"),
            ("2603:10a6:20b:1::5", 2, "quarantine", "fail", "fail")]
    x = ('<?xml version="1.0"?>\r\n<feedback xmlns:xsd="http://www.w3.org/'
         '2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-'
         'instance">\r\n  <version>1.0</version>\r\n  <report_metadata>\r\n'
         '    <org_name>Enterprise Outlook</org_name>\r\n'
         '    <email>dmarcreport@microsoft.com</email>\r\n'
         '    <report_id>8f0d6a7c8c2a4e0f9b1d2c3e4f5a6b7c</report_id>\r\n'
         '    <date_range>\r\n      <begin>1796601600</begin>\r\n'
         '      <end>1796688000</end>\r\n    </date_range>\r\n'
         '  </report_metadata>\r\n  <policy_published>\r\n'
         '    <domain>example.org</domain>\r\n    <adkim>r</adkim>\r\n'
         '    <aspf>r</aspf>\r\n    <p>quarantine</p>\r\n'
         '    <sp>quarantine</sp>\r\n    <pct>100</pct>\r\n'
         '    <fo>0</fo>\r\n  </policy_published>\r\n'
         '  <record>\r\n    <row>\r\n'
         '      <source_ip>40.107.22.51</source_ip>\r\n'
         '      <count>1</count>\r\n      <policy_evaluated>\r\n'
         '        <disposition>none</disposition>\r\n'
         '        <dkim>pass</dkim>\r\n        <spf>pass</spf>\r\n'
         '      </policy_evaluated>\r\n    </row>\r\n'
         '    <identifiers>\r\n      <envelope_to>example.net</envelope_to>'
         '\r\n      <envelope_from>example.org</envelope_from>\r\n'
         '      <header_from>example.org</header_from>\r\n'
         '    </identifiers>\r\n    <auth_results>\r\n      <dkim>\r\n'
         '        <domain>example.org</domain>\r\n'
         '        <selector>selector1</selector>\r\n'
         '        <result>pass</result>\r\n      </dkim>\r\n'
         '      <spf>\r\n        <domain>example.org</domain>\r\n'
         '        <scope>mfrom</scope>\r\n        <result>pass</result>\r\n'
         '      </spf>\r\n    </auth_results>\r\n  </record>\r\n'
         '  <record>\r\n    <row>\r\n'
         '      <source_ip>2603:10a6:20b:0001:0000::5</source_ip>\r\n'
         '      <count>2</count>\r\n      <policy_evaluated>\r\n'
         '        <disposition>quarantine</disposition>\r\n'
         '        <dkim>fail</dkim>\r\n        <spf>softfail</spf>\r\n'
         '        <reason>\r\n          <type>local_policy</type>\r\n'
         '          <comment>arc=fail</comment>\r\n        </reason>\r\n'
         '      </policy_evaluated>\r\n    </row>\r\n'
         '    <identifiers>\r\n      <header_from>example.org</header_from>'
         '\r\n    </identifiers>\r\n    <auth_results>\r\n'
         '      <spf>\r\n        <domain>bad.example</domain>\r\n'
         '        <result>softfail</result>\r\n      </spf>\r\n'
         '    </auth_results>\r\n  </record>\r\n</feedback>\r\n').encode()
    fn = "enterprise.protection.outlook.com!example.org!1796601600!" \
         "1796688000.xml.gz"
    good("microsoft-gzip-single", mail(
        "Report Domain: example.org Submitter: "
        "enterprise.protection.outlook.com Report-ID: <8f0d6a7c8c2a4e0f9b1d"
        "2c3e4f5a6b7c>",
        [('Content-Type: application/gzip\nContent-Disposition: '
          'attachment;\n filename="%s"\nContent-Transfer-Encoding: base64\n'
          % fn, b64lines(gz(x), crlf=True))],
        frm="dmarcreport@microsoft.com", crlf=True),
        dmarc_fig("Enterprise Outlook", "8f0d6a7c8c2a4e0f9b1d2c3e4f5a6b7c",
                  "example.org", 1796601600, 1796688000, rows))

    # --- Yahoo-like: zip, odd whitespace inside values, an unknown
    #     extension element, no email/extra_contact_info ---
    x = ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback>\n'
         '<report_metadata><org_name>  Yahoo\n</org_name>'
         '<email>dmarchelp@yahooinc.com</email>'
         '<report_id>\n\t1796688000.570632\n</report_id><date_range>'
         '<begin> 1796688000 </begin><end>\n1796774399\n</end>'
         '</date_range></report_metadata>\n<policy_published>'
         '<domain>example.org</domain><adkim>r</adkim><aspf>r</aspf>'
         '<p>reject</p><pct>100</pct></policy_published>\n'
         '<extension><vendor:thing xmlns:vendor="http://vendor.example/x">'
         '<deep><deeper>ignored</deeper></deep></vendor:thing></extension>\n'
         '<record><row><source_ip>  192.0.2.55  </source_ip>'
         '<count>  7 </count><policy_evaluated><disposition>Reject'
         '</disposition><dkim>FAIL</dkim><spf>Pass</spf>'
         '</policy_evaluated></row><identifiers><header_from>example.org'
         '</header_from></identifiers><auth_results><spf><domain>'
         'example.org</domain><result>pass</result></spf></auth_results>'
         '</record>\n</feedback>\n').encode()
    rows = [("192.0.2.55", 7, "reject", "fail", "pass")]
    fn = "yahoo.com!example.org!1796688000!1796774399.zip"
    good("yahoo-zip", mail(
        "Report Domain: example.org Submitter: yahoo.com",
        [("Content-Type: text/plain\n", "Yahoo DMARC report.\n"),
         ('Content-Type: application/zip\nContent-Disposition: attachment;'
          ' filename="%s"\nContent-Transfer-Encoding: base64\n' % fn,
          b64lines(zipped(fn[:-4] + ".xml", x)))],
        frm="dmarchelp@yahooinc.com"),
        dmarc_fig("Yahoo", "1796688000.570632", "example.org", 1796688000,
                  1796774399, rows))

    # --- a stored (uncompressed) zip member, x-zip-compressed type ---
    rows = [("203.0.113.9", 1, "none", "pass", "fail")]
    x = old_xml("mail.example.net", "stored-1", "example.org", 1796774400,
                1796860799, rows)
    good("zip-stored", mail(
        "Report Domain: example.org Submitter: mail.example.net",
        [('Content-Type: application/x-zip-compressed; name="r.zip"\n'
          'Content-Transfer-Encoding: base64\n',
          b64lines(zipped("r.xml", x, zipfile.ZIP_STORED)))]),
        dmarc_fig("mail.example.net", "stored-1", "example.org",
                  1796774400, 1796860799, rows))

    # --- RFC 9990 schema: the 2.0 namespace, plain text/xml, QP ---
    x = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">\n'
         '  <version>1.0</version>\n  <report_metadata>\n'
         '    <org_name>Sample Reporter \u00e9</org_name>\n'
         '    <email>report_sender@example-reporter.com</email>\n'
         '    <report_id>3v98abbp8ya9n3va8yr8oa3ya</report_id>\n'
         '    <date_range>\n      <begin>302832000</begin>\n'
         '      <end>302918399</end>\n    </date_range>\n'
         '    <generator>Example DMARC Aggregate Reporter v1.2</generator>\n'
         '  </report_metadata>\n  <policy_published>\n'
         '    <domain>example.com</domain>\n    <p>quarantine</p>\n'
         '    <sp>none</sp>\n    <np>none</np>\n    <testing>n</testing>\n'
         '    <discovery_method>treewalk</discovery_method>\n'
         '  </policy_published>\n  <record>\n    <row>\n'
         '      <source_ip>192.0.2.123</source_ip>\n'
         '      <count>123</count>\n      <policy_evaluated>\n'
         '        <disposition>pass</disposition>\n'
         '        <dkim>pass</dkim>\n        <spf>fail</spf>\n'
         '      </policy_evaluated>\n    </row>\n    <identifiers>\n'
         '      <envelope_from>example.com</envelope_from>\n'
         '      <header_from>example.com</header_from>\n'
         '    </identifiers>\n    <auth_results>\n      <dkim>\n'
         '        <domain>example.com</domain>\n'
         '        <result>pass</result>\n'
         '        <selector>abc123</selector>\n      </dkim>\n'
         '    </auth_results>\n  </record>\n</feedback>\n')
    qp = x.replace("=", "=3D").replace("\u00e9", "=C3=A9")
    # a soft line break in the middle of a long line
    qp = qp.replace("<generator>Example DMARC", "<generator>Example =\nDMARC")
    good("rfc9990-xml-qp", mail(
        "Report Domain: example.com Submitter: example-reporter.com "
        "Report-ID: 3v98abbp8ya9n3va8yr8oa3ya",
        [('Content-Type: text/xml; charset=utf-8\n'
          'Content-Transfer-Encoding: quoted-printable\n', qp)],
        frm="report_sender@example-reporter.com", to="rua@example.com"),
        dmarc_fig("Sample Reporter \u00e9", "3v98abbp8ya9n3va8yr8oa3ya",
                  "example.com", 302832000, 302918399,
                  [("192.0.2.123", 123, "pass", "pass", "fail")]))

    # --- RFC 9990 with a namespace prefix and gzip as octet-stream ---
    x = ('<?xml version="1.0"?>\n<d:feedback xmlns:d="urn:ietf:params:xml:'
         'ns:dmarc-2.0"><d:version>1.0</d:version><d:report_metadata>'
         '<d:org_name>prefix.example</d:org_name><d:report_id>p-42'
         '</d:report_id><d:date_range><d:begin>1796860800</d:begin>'
         '<d:end>1796947199</d:end></d:date_range></d:report_metadata>'
         '<d:policy_published><d:domain>example.org</d:domain><d:p>none'
         '</d:p><d:discovery_method>psl</d:discovery_method>'
         '</d:policy_published>'
         '<d:record><d:row><d:source_ip>192.0.2.1</d:source_ip><d:count>5'
         '</d:count><d:policy_evaluated><d:disposition>none'
         '</d:disposition><d:dkim>pass</d:dkim><d:spf>pass</d:spf>'
         '</d:policy_evaluated></d:row><d:identifiers><d:header_from>'
         'example.org</d:header_from></d:identifiers><d:auth_results/>'
         '</d:record><d:record><d:row><d:source_ip>192.0.2.2</d:source_ip>'
         '<d:count>6</d:count><d:policy_evaluated><d:disposition>none'
         '</d:disposition><d:dkim>fail</d:dkim><d:spf>pass</d:spf>'
         '</d:policy_evaluated></d:row><d:identifiers><d:header_from>'
         'example.org</d:header_from></d:identifiers><d:auth_results/>'
         '</d:record></d:feedback>').encode()
    good("rfc9990-prefix-octet", mail(
        "Report Domain: example.org Submitter: prefix.example",
        [("Content-Type: text/plain\n", "see attachment\n"),
         ('Content-Type: application/octet-stream\nContent-Disposition: '
          'attachment; filename=prefix.example!example.org!1796860800!'
          '1796947199.xml.gz\nContent-Transfer-Encoding: base64\n',
          b64lines(gz(x)))]),
        dmarc_fig("prefix.example", "p-42", "example.org", 1796860800,
                  1796947199, [("192.0.2.1", 5, "none", "pass", "pass"),
                               ("192.0.2.2", 6, "none", "fail", "pass")]))

    # --- missing optional elements: no org_name, no policy_evaluated
    #     results (treated as fail), no disposition ---
    x = ('<feedback><report_metadata><report_id>min-1</report_id>'
         '<date_range><begin>1796947200</begin><end>1797033599</end>'
         '</date_range></report_metadata><policy_published><domain>'
         'example.org</domain></policy_published><record><row><source_ip>'
         '198.51.100.99</source_ip><count>0</count></row></record>'
         '</feedback>').encode()
    good("minimal-plain", mail(
        "Report Domain: example.org",
        [('Content-Type: application/xml\n', x.decode() + "\n")]),
        dmarc_fig("", "min-1", "example.org", 1796947200, 1797033599,
                  [("198.51.100.99", 0, "", "fail", "fail")]))

    # --- TLS-RPT, RFC 8460 4.4's example shape, tlsrpt+gzip ---
    t = {"organization-name": "Company-X",
         "date-range": {"start-datetime": "2026-12-06T00:00:00Z",
                        "end-datetime": "2026-12-06T23:59:59Z"},
         "contact-info": "sts-reporting@company-x.example",
         "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
         "policies": [
             {"policy": {"policy-type": "sts",
                         "policy-string": ["version: STSv1", "mode: testing",
                                           "mx: *.mail.company-y.example",
                                           "max_age: 86400"],
                         "policy-domain": "company-y.example",
                         "mx-host": ["*.mail.company-y.example"]},
              "summary": {"total-successful-session-count": 5326,
                          "total-failure-session-count": 303},
              "failure-details": [
                  {"result-type": "certificate-expired",
                   "sending-mta-ip": "2001:db8:abcd:0012::1",
                   "receiving-mx-hostname": "mx1.mail.company-y.example",
                   "failed-session-count": 100},
                  {"result-type": "starttls-not-supported",
                   "sending-mta-ip": "2001:db8:abcd:0013::1",
                   "receiving-mx-hostname": "mx2.mail.company-y.example",
                   "receiving-ip": "203.0.113.56",
                   "failed-session-count": 200,
                   "additional-information": "https://reports.company-x."
                   "example/report_info?id=5065427c-23d3#StarttlsNotSupported"
                   }]},
             {"policy": {"policy-type": "tlsa",
                         "policy-string": ["3 0 1 1F850A337E6DB9C609C522D136A"
                                           "475638CC43E1ED424F8EEC8513D7470"
                                           "80111"],
                         "policy-domain": "example.org"},
              "summary": {"total-successful-session-count": 12,
                          "total-failure-session-count": 0}}]}
    good("tlsrpt-gzip", mail(
        "Report Domain: company-y.example Submitter: company-x.example "
        "Report-ID: <5065427c-23d3-47ca-b6e0-946ea0e8c4be>",
        [("Content-Type: text/plain\n", "This is an aggregate TLS report "
          "from company-x.example\n"),
         ('Content-Type: application/tlsrpt+gzip\nContent-Disposition: '
          'attachment; filename="company-x.example!company-y.example!'
          '1796515200!1796601599!001.json.gz"\nContent-Transfer-Encoding: '
          'base64\n', b64lines(gz(json.dumps(t, indent=2).encode())))],
        frm="tlsrpt@company-x.example", to="tlsrpt@example.org",
        extra_headers="TLS-Report-Domain: company-y.example\n"
        "TLS-Report-Submitter: company-x.example\n"),
        {"type": "tls", "org": "Company-X",
         "report_id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
         "begin": 1796515200, "end": 1796601599,
         "policies": [{"policy_type": "sts",
                       "policy_domain": "company-y.example",
                       "success": 5326, "failure": 303},
                      {"policy_type": "tlsa", "policy_domain": "example.org",
                       "success": 12, "failure": 0}]})

    # --- TLS-RPT as plain JSON, Google-like (fractional seconds, no-policy-
    #     found, an offset instead of Z) ---
    t = {"organization-name": "Google Inc.",
         "date-range": {"start-datetime": "2026-12-06T00:00:00.000+01:00",
                        "end-datetime": "2026-12-06T23:59:59Z"},
         "contact-info": "smtp-tls-reporting@google.com",
         "report-id": "2026-12-06T00:00:00Z_example.org",
         "policies": [{"policy": {"policy-type": "no-policy-found",
                                  "policy-domain": "example.org"},
                       "summary": {"total-successful-session-count": 1,
                                   "total-failure-session-count": 0}}]}
    good("tlsrpt-json", mail(
        "Report Domain: example.org Submitter: google.com",
        [('Content-Type: application/tlsrpt+json\n'
          'Content-Transfer-Encoding: 7bit\n', json.dumps(t) + "\n")],
        frm="noreply-smtp-tls-reporting@google.com",
        to="tlsrpt@example.org"),
        {"type": "tls", "org": "Google Inc.",
         "report_id": "2026-12-06T00:00:00Z_example.org",
         "begin": 1796511600, "end": 1796601599,
         "policies": [{"policy_type": "no-policy-found",
                       "policy_domain": "example.org", "success": 1,
                       "failure": 0}]})

    # --- ARF abuse report (RFC 5965 B.2 shape) ---
    arf = ("Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\n"
           "Version: 1\nOriginal-Mail-From: <somespammer@example.net>\n"
           "Original-Rcpt-To: <user@example.com>\n"
           "Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\n"
           "Reporting-MTA: dns; mail.example.com\n"
           "Source-IP: 192.0.2.1\nAuthentication-Results: mail.example.com;"
           "\n               spf=fail smtp.mail=somespammer@example.com\n"
           "Reported-Domain: example.net\n"
           "Reported-Uri: http://example.net/earn_money.html\n"
           "Reported-Uri: mailto:user@example.com\n"
           "Removal-Recipient: user@example.com\n")
    good("arf-abuse", mail(
        "FW: Earn money",
        [("Content-Type: multipart/report; report-type=feedback-report;\n"
          '     boundary="part1_13d.2e68ed54_boundary"\n',
          "--part1_13d.2e68ed54_boundary\nContent-Type: text/plain; "
          "charset=\"US-ASCII\"\nContent-Transfer-Encoding: 7bit\n\n"
          "This is an email abuse report for an email message received "
          "from IP\n192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.\n\n"
          "--part1_13d.2e68ed54_boundary\nContent-Type: message/feedback-"
          "report\n\n" + arf + "\n--part1_13d.2e68ed54_boundary\n"
          "Content-Type: message/rfc822\nContent-Disposition: inline\n\n"
          "From: <somespammer@example.net>\nReceived: from mailserver."
          "example.net\nSubject: Earn money\nContent-Type: multipart/mixed; "
          "boundary=x\n\n--x\nContent-Type: application/gzip\n\nnot a "
          "report\n--x--\n\n--part1_13d.2e68ed54_boundary--\n")],
        frm="<abusedesk@example.com>", to="abuse@example.org"),
        {"type": "arf", "feedback_type": "abuse", "source_ip": "192.0.2.1",
         "reported_domain": "example.net"})

    # --- ARF authentication failure (RFC 6591, RFC 9991), CRLF ---
    arf = ("Feedback-Type: auth-failure\r\nUser-Agent: Reporter/2.0\r\n"
           "Version: 1\r\nOriginal-Mail-From: <bounce@Example.ORG>\r\n"
           "Arrival-Date: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
           "Source-IP: [2001:db8::25]\r\nReported-Domain: Example.ORG\r\n"
           "Authentication-Results: mx.receiver.example; dmarc=fail\r\n"
           "  header.from=example.org\r\nAuth-Failure: dmarc\r\n"
           "Identity-Alignment: dkim, spf\r\n")
    good("arf-auth-failure", mail(
        "DMARC Failure Report for example.org",
        [('Content-Type: multipart/report; report-type="feedback-report";'
          ' boundary="=_ARF_"\n',
          "--=_ARF_\r\nContent-Type: text/plain\r\n\r\nA DMARC failure "
          "report.\r\n--=_ARF_\r\nContent-Type: message/feedback-report\r\n"
          "\r\n" + arf + "\r\n--=_ARF_\r\nContent-Type: text/rfc822-headers"
          "\r\n\r\nFrom: x@example.org\r\nSubject: [redacted]\r\n\r\n"
          "--=_ARF_--\r\n")],
        frm="dmarc-failures@receiver.example", to="ruf@example.org",
        crlf=True),
        {"type": "arf", "feedback_type": "auth-failure",
         "source_ip": "2001:db8::25", "reported_domain": "example.org"})

    with open(os.path.join(HERE, "expected.txt"), "w", encoding="utf-8") as f:
        for name, fig in expected:
            f.write("%s\t%s\n" % (name, fig))

    hostile()


def hostile_mail(name, part_headers, body):
    write(HOSTILE, name, mail("Report Domain: example.org Submitter: "
                              "evil.example", [(part_headers, body)],
                              frm="evil@evil.example"))


def att(ctype, data, name="report.bin"):
    return ('Content-Type: %s; name="%s"\nContent-Transfer-Encoding: base64\n'
            % (ctype, name), b64lines(data))


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def lying_zip(name, data, claimed):
    """A zip whose directory claims `claimed` octets for `data`."""
    comp = raw_deflate(data)
    crc = zlib.crc32(data)
    lh = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0x5821, crc,
                     len(comp), claimed, len(name), 0) + name
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0,
                     0x5821, crc, len(comp), claimed, len(name), 0, 0, 0, 0,
                     0, 0) + name
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(cd),
                      len(lh) + len(comp), 0)
    return lh + comp + cd + end


def hostile():
    zeros = b"\0" * (64 * 1024 * 1024)
    # a zip bomb: 64 MB of zeros, honest directory
    hostile_mail("zip-bomb", *att("application/zip",
                                  zipped("bomb.xml", zeros), "bomb.zip"))
    # and one whose directory lies: the ratio limit stops it
    hostile_mail("zip-bomb-lying", *att("application/zip", lying_zip(
        b"bomb.xml", zeros, 1000), "bomb.zip"))
    # a gzip claiming 1 GB (ISIZE) around a small report
    g = bytearray(gz(b"<feedback/>"))
    g[-4:] = struct.pack("<I", 1 << 30)
    hostile_mail("gzip-claims-1g", *att("application/gzip", bytes(g),
                                        "r.xml.gz"))
    # a gzip bomb whose ISIZE lies small: the ratio limit stops it
    g = bytearray(gz(zeros))
    g[-4:] = struct.pack("<I", 1000)
    hostile_mail("gzip-bomb-lying", *att("application/gzip", bytes(g),
                                         "r.xml.gz"))
    # billion laughs
    lol = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
           ' <!ENTITY lol "lol">\n')
    prev = "lol"
    for i in range(1, 10):
        lol += ' <!ENTITY lol%d "%s">\n' % (i, ("&%s;" % prev) * 10)
        prev = "lol%d" % i
    lol += ']>\n<feedback><report_metadata><org_name>&lol9;</org_name>' \
           '</report_metadata></feedback>\n'
    hostile_mail("billion-laughs", *att("application/gzip",
                                        gz(lol.encode()), "r.xml.gz"))
    # an external entity
    xxe = ('<?xml version="1.0"?>\n<!DOCTYPE feedback [ <!ENTITY xxe '
           'SYSTEM "file:///etc/passwd"> ]>\n<feedback><report_metadata>'
           '<org_name>&xxe;</org_name><report_id>x</report_id><date_range>'
           '<begin>1</begin><end>2</end></date_range></report_metadata>'
           '<policy_published><domain>example.org</domain>'
           '</policy_published></feedback>\n')
    hostile_mail("xxe", "Content-Type: text/xml\n", xxe)
    # nesting 10,000 deep, XML and JSON
    deep = "<feedback>" + "<a>" * 10000 + "</a>" * 10000 + "</feedback>"
    hostile_mail("deep-xml", *att("application/gzip", gz(deep.encode()),
                                  "r.xml.gz"))
    deep = ('{"organization-name":"x","report-id":"y","date-range":'
            '{"start-datetime":"2026-12-06T00:00:00Z","end-datetime":'
            '"2026-12-06T23:59:59Z"},"policies":[' + "[" * 10000 +
            "]" * 10000 + "]}")
    hostile_mail("deep-json", *att("application/tlsrpt+gzip",
                                   gz(deep.encode()), "r.json.gz"))
    # invalid UTF-8, XML and JSON
    bad = old_xml("bad \xff\xfe org", "u-1", "example.org", 1, 2,
                  [("192.0.2.1", 1, "none", "pass", "pass")])
    bad = bad.replace(b"bad \xc3\xbf\xc3\xbe org",
                      b"bad \xff\xfe org")
    hostile_mail("bad-utf8-xml", *att("application/gzip", gz(bad),
                                      "r.xml.gz"))
    j = (b'{"organization-name":"bad \xc0\xaf","report-id":"y","date-range":'
         b'{"start-datetime":"2026-12-06T00:00:00Z","end-datetime":'
         b'"2026-12-06T23:59:59Z"},"policies":[]}')
    hostile_mail("bad-utf8-json", *att("application/tlsrpt+gzip", gz(j),
                                       "r.json.gz"))
    # huge numbers
    for n, num in (("huge-int-json", "123456789012345678901234567890"),
                   ("huge-real-json", "1e400"),
                   ("big-count-json", str(1 << 60)),
                   ("negative-count-json", "-5"),
                   ("real-count-json", "5.5")):
        j = ('{"organization-name":"x","report-id":"y","date-range":'
             '{"start-datetime":"2026-12-06T00:00:00Z","end-datetime":'
             '"2026-12-06T23:59:59Z"},"policies":[{"policy":{"policy-type":'
             '"sts","policy-domain":"example.org"},"summary":{"total-'
             'successful-session-count":%s,"total-failure-session-count":0'
             '}}]}' % num)
        hostile_mail(n, "Content-Type: application/tlsrpt+json\n", j + "\n")
    # a count past the limit in XML
    hostile_mail("huge-count-xml", "Content-Type: text/xml\n", old_xml(
        "x", "h-1", "example.org", 1, 2,
        [("192.0.2.1", 10**30, "none", "pass", "pass")]).decode())
    # more rows than the limit
    many = old_xml("x", "m-1", "example.org", 1, 2,
                   [("192.0.2.%d" % (i % 250 + 1), 1, "none", "pass", "pass")
                    for i in range(10001)])
    hostile_mail("too-many-rows", *att("application/gzip", gz(many),
                                       "r.xml.gz"))
    # MIME nested deeper than the limit
    body = ""
    for i in range(50):
        body += ('Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n'
                 % (i, i))
    body += "Content-Type: text/xml\n\n<feedback/>\n"
    hostile_mail("deep-mime", "Content-Type: multipart/mixed; "
                 "boundary=\"top\"\n", "--top\n" + body + "--top--\n")
    # not a report at all
    hostile_mail("no-report", "Content-Type: text/plain\n", "hello\n")
    # an ARF part without Feedback-Type
    hostile_mail("arf-no-type", "Content-Type: multipart/report; "
                 "report-type=feedback-report; boundary=z\n",
                 "--z\nContent-Type: message/feedback-report\n\n"
                 "User-Agent: x\nVersion: 1\n\n--z--\n")


if __name__ == "__main__":
    main()

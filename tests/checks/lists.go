package checks

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/smtp"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Lists: Mailman 3 at listes.D behind Postfix on port 25, DKIM-signed by
// OpenDKIM, archived by HyperKitty. Each check makes its own list through
// Mailman's REST API (which only the guest's loopback reaches: the checks
// go through the admin's SSH session), with root@FQDN as its one member,
// and removes it, and its archive, at the end.
func init() {
	Default.Register(Check{Name: "lists.create", Summary: "a list made through Mailman's REST API takes root@FQDN as a member and shows in Postorius",
		Timeout: 4 * time.Minute, Services: []string{"lists", "tls"}, Run: checkListsCreate,
		Writes: "a mailing list with one member, shown in Postorius' list index until it is removed at the end"})
	Default.Register(Check{Name: "lists.post", Summary: "a post sent on port 25 is archived by HyperKitty and lands in /var/mail/root with a valid DKIM signature",
		Timeout: 8 * time.Minute, Services: []string{"lists", "tls"}, Run: checkListsPost,
		Writes: "a mailing list and a post in its public archive, removed at the end; the list's copy of the post stays in /var/mail/root"})
	Default.Register(Check{Name: "lists.archive-privacy", Summary: "the archived message, its thread and the archive's API show no author's address; no mbox download",
		Timeout: 8 * time.Minute, Services: []string{"lists", "tls"}, Run: checkListsArchivePrivacy,
		Writes: "a mailing list and a post in its public archive, removed at the end; the list's copy of the post stays in /var/mail/root"})
	Default.Register(Check{Name: "lists.no-relay", Summary: "port 25 refuses mail for other domains and for unknown lists",
		Timeout: 2 * time.Minute, Services: []string{"lists"}, Run: checkListsNoRelay})
	Default.Register(Check{Name: "lists.starttls", Summary: "port 25 offers STARTTLS with a valid certificate for listes.D",
		Timeout: 2 * time.Minute, Services: []string{"lists", "tls"}, Run: checkListsStartTLS})
	Default.Register(Check{Name: "lists.log-privacy", Summary: "the mail logs (Postfix, OpenDKIM) keep no client address nor HELO name",
		Timeout: 2 * time.Minute, Services: []string{"lists"}, Run: checkListsLogPrivacy})
}

// listsWait bounds how long a post may take from port 25 to the archive
// and to root's mailbox: under software emulation Mailman's runners and
// Django take minutes.
const listsWait = 4 * time.Minute

// mailmanREST is Mailman core's REST API as restadmin, reached on the
// guest's loopback (127.0.0.1:8001) through the admin's SSH session.
type mailmanREST struct {
	client *http.Client
	pass   string
}

func newMailmanREST(ctx context.Context, m Machine) (*mailmanREST, error) {
	pass, err := guestSecret(ctx, m, "mailman-rest")
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return m.DialGuest(ctx, "127.0.0.1:8001")
		},
		ResponseHeaderTimeout: webTimeout,
		IdleConnTimeout:       30 * time.Second,
	}
	return &mailmanREST{client: &http.Client{Transport: tr, Timeout: webTimeout}, pass: pass}, nil
}

// call sends a form (nil: none) to a path under /3.1/ and returns the
// answer if its status is one of want.
func (r *mailmanREST) call(ctx context.Context, method, path string, form url.Values, want ...int) (webResult, error) {
	c := webCall{Method: method, URL: "http://127.0.0.1:8001/3.1/" + path, User: "restadmin", Pass: r.pass}
	if form != nil {
		c.Body = []byte(form.Encode())
		c.Header = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	}
	res, err := doWeb(ctx, r.client, c)
	if err != nil {
		return res, hideSecrets(fmt.Errorf("Mailman REST %s /3.1/%s: %w", method, path, err), r.pass)
	}
	for _, w := range want {
		if res.Status == w {
			return res, nil
		}
	}
	return res, hideSecrets(fmt.Errorf("Mailman REST %s /3.1/%s: %s", method, path, res), r.pass)
}

// ready waits until the REST API answers: after a boot under emulation
// Mailman's runners take a while to start.
func (r *mailmanREST) ready(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := r.call(ctx, http.MethodGet, "system/versions", nil, http.StatusOK)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(5 * time.Second):
		}
	}
}

// checkList is a list a check made for itself.
type checkList struct {
	m      Machine
	rest   *mailmanREST
	site   Site
	domain string // listes.D
	name   string // check-1a2b3c
	member string // root@FQDN
}

func (l checkList) address() string { return l.name + "@" + l.domain }
func (l checkList) id() string      { return l.name + "." + l.domain }

// archiveURL is a page of the list's archive in HyperKitty.
func (l checkList) archiveURL(path string) string {
	return SiteURL(l.m, l.domain, "archives/list/"+l.address()+"/"+path)
}

// makeCheckList makes a list with root@FQDN as a member, subscribed
// without confirmation; remove deletes the list and its archive, even
// after the check's context has ended.
func makeCheckList(ctx context.Context, m Machine) (l checkList, remove func() error, err error) {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return l, nil, err
	}
	domain, err := site.Name("lists")
	if err != nil {
		return l, nil, err
	}
	if site.FQDN == "" {
		return l, nil, errors.New("/etc/ostal/site.json has no fqdn: the list's member would be root@FQDN")
	}
	rest, err := newMailmanREST(ctx, m)
	if err != nil {
		return l, nil, err
	}
	if err := rest.ready(ctx); err != nil {
		return l, nil, fmt.Errorf("Mailman's REST API does not answer on the guest's 127.0.0.1:8001: %w", err)
	}
	l = checkList{m: m, rest: rest, site: site, domain: domain, name: "check-" + randomHex(3), member: "root@" + site.FQDN}
	if _, err := rest.call(ctx, http.MethodPost, "lists", url.Values{"fqdn_listname": {l.address()}}, http.StatusCreated); err != nil {
		return l, nil, fmt.Errorf("make the list %s (is the mail domain %s made?): %w", l.address(), domain, err)
	}
	remove = func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		var errs []error
		if _, err := rest.call(rctx, http.MethodDelete, "lists/"+l.id(), nil, http.StatusNoContent, http.StatusNotFound); err != nil {
			errs = append(errs, fmt.Errorf("delete the list %s: %w", l.address(), err))
		}
		// HyperKitty keeps a deleted list's archive: remove it too.
		script := fmt.Sprintf("from hyperkitty.models import MailingList; MailingList.objects.filter(name=%q).delete()", l.address())
		// As the web interface's own user (uWSGI's), who owns its database.
		if _, err := m.Run(rctx, "cd /usr/share/mailman3-web && runuser -u \"$(sed -n 's/^uid *= *//p' /etc/mailman3/uwsgi.ini)\" -- python3 manage.py shell -c '"+script+"'"); err != nil {
			errs = append(errs, fmt.Errorf("delete the archive of %s: %w", l.address(), err))
		}
		return errors.Join(errs...)
	}
	member := url.Values{"list_id": {l.id()}, "subscriber": {l.member}, "pre_verified": {"true"},
		"pre_confirmed": {"true"}, "pre_approved": {"true"}, "send_welcome_message": {"false"}}
	if _, err := rest.call(ctx, http.MethodPost, "members", member, http.StatusCreated); err != nil {
		return l, nil, errors.Join(fmt.Errorf("subscribe %s to %s: %w", l.member, l.address(), err), remove())
	}
	return l, remove, nil
}

func checkListsCreate(ctx context.Context, m Machine) (err error) {
	l, remove, err := makeCheckList(ctx, m)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	m.Note("made %s with member %s", l.address(), l.member)

	res, err := l.rest.call(ctx, http.MethodGet, "lists/"+l.id()+"/roster/member", nil, http.StatusOK)
	if err != nil {
		return err
	}
	var roster struct {
		Entries []struct {
			Email        string `json:"email"`
			DeliveryMode string `json:"delivery_mode"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(res.Body, &roster); err != nil {
		return fmt.Errorf("the list's roster is not JSON: %v", err)
	}
	if len(roster.Entries) != 1 || !strings.EqualFold(roster.Entries[0].Email, l.member) {
		return fmt.Errorf("the roster of %s holds %+v, expected only %s", l.address(), roster.Entries, l.member)
	}
	if mode := roster.Entries[0].DeliveryMode; mode != "regular" {
		return fmt.Errorf("%s gets the list's mail as %q, expected regular delivery", l.member, mode)
	}

	// Postorius, through nginx and uWSGI, lists it for visitors.
	page, err := doWeb(ctx, WebClient(m), webCall{Method: http.MethodGet, URL: SiteURL(m, l.domain, "mailman3/lists/")})
	if err != nil {
		return err
	}
	if page.Status != http.StatusOK {
		return fmt.Errorf("Postorius' list index: %s", page)
	}
	if !strings.Contains(string(page.Body), l.address()) {
		return fmt.Errorf("Postorius' list index %s does not show %s", SiteURL(m, l.domain, "mailman3/lists/"), l.address())
	}
	return nil
}

// messageIDHash is HyperKitty's (and Mailman's Message-ID-Hash:) name of a
// message: base32 of the SHA-1 of its Message-ID without angle brackets.
func messageIDHash(messageID string) string {
	sum := sha1.Sum([]byte(strings.Trim(messageID, "<>")))
	return base32.StdEncoding.EncodeToString(sum[:])
}

// smtpHelo is the name the checks give in EHLO.
const smtpHelo = "ostal-check.invalid"

// smtpSession opens an SMTP session with the guest's port 25, greeted and
// past EHLO; every exchange must end within the deadline.
func smtpSession(ctx context.Context, m Machine) (*smtp.Client, error) {
	addr, err := m.Addr(25)
	if err != nil {
		return nil, err
	}
	conn, err := (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to the guest's port 25: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, m.Domain())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("the guest's port 25 does not greet as SMTP: %w", err)
	}
	if err := c.Hello(smtpHelo); err != nil {
		c.Close()
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	return c, nil
}

// postToList sends a message to the list from its member, as a mail
// server outside would: STARTTLS when offered (verified), no
// authentication. It returns the Message-ID.
func postToList(ctx context.Context, l checkList, from, body string) (string, error) {
	c, err := smtpSession(ctx, l.m)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: l.domain, RootCAs: l.m.TLSRoots(), MinVersion: tls.VersionTLS12}); err != nil {
			return "", fmt.Errorf("STARTTLS on port 25: %w", err)
		}
	} else {
		l.m.Note("port 25 offered no STARTTLS; the post went in clear")
	}
	id := fmt.Sprintf("<ostal-check-%s@%s>", randomHex(8), l.site.FQDN)
	msg := strings.Join([]string{
		"From: " + from,
		"To: " + l.address(),
		"Subject: ostal check " + strings.Trim(id, "<>"),
		"Message-ID: " + id,
		"Date: " + time.Now().UTC().Format(time.RFC1123Z),
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		body,
		"",
	}, "\r\n")
	if err := c.Mail(l.member); err != nil {
		return "", fmt.Errorf("MAIL FROM:<%s>: %w", l.member, err)
	}
	if err := c.Rcpt(l.address()); err != nil {
		return "", fmt.Errorf("RCPT TO:<%s>: %w", l.address(), err)
	}
	w, err := c.Data()
	if err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return "", fmt.Errorf("send the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("the message was refused: %w", err)
	}
	c.Quit()
	return id, nil
}

// waitArchived polls the message's page in HyperKitty until it is there
// and returns its body.
func waitArchived(ctx context.Context, l checkList, id string) ([]byte, error) {
	pageURL := l.archiveURL("message/" + messageIDHash(id) + "/")
	client := WebClient(l.m)
	deadline := time.Now().Add(listsWait)
	last := "no answer yet"
	for {
		res, err := doWeb(ctx, client, webCall{Method: http.MethodGet, URL: pageURL})
		switch {
		case err != nil:
			last = err.Error()
		case res.Status == http.StatusOK:
			return res.Body, nil
		default:
			last = res.String()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s is not in the archive %s after %s: the last answer was %s", id, pageURL, listsWait, last)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s is not in the archive %s: %w (last answer: %s)", id, pageURL, ctx.Err(), last)
		case <-time.After(10 * time.Second):
		}
	}
}

// deliveredCopy is what the guest finds of a message in /var/mail/root.
type deliveredCopy struct {
	Found     bool   `json:"found"`
	Subject   string `json:"subject"`
	Signature string `json:"signature"`
	Verified  bool   `json:"verified"`
	VerifyErr string `json:"verify_error"`
}

// findDelivered looks for the message in root's mailbox and checks its
// DKIM signature against the key /usr/lib/ostal/dkim-public prints, the
// one the zone publishes (python3-dkim, which Mailman depends on).
const findDelivered = `python3 - %q <<'PY'
import json, mailbox, subprocess, sys
want = sys.argv[1]
out = {"found": False}
try:
    box = mailbox.mbox("/var/mail/root", create=False)
    msgs = list(box)
except (FileNotFoundError, mailbox.NoSuchMailboxError):
    msgs = []
for msg in msgs:
    if (msg["Message-ID"] or "").strip() != want:
        continue
    out.update(found=True, subject=str(msg["Subject"] or ""), signature=str(msg["DKIM-Signature"] or ""))
    if out["signature"]:
        try:
            import dkim
            pub = subprocess.run(["/usr/lib/ostal/dkim-public"], capture_output=True, text=True, check=True).stdout.strip()
            record = ("v=DKIM1; k=rsa; p=" + pub).encode()
            out["verified"] = bool(dkim.verify(msg.as_bytes(), dnsfunc=lambda name, timeout=5: record))
        except Exception as e:
            out["verify_error"] = type(e).__name__ + ": " + str(e)
    break
print(json.dumps(out))
PY`

// waitDelivered polls root's mailbox until the list's copy of the message
// is there.
func waitDelivered(ctx context.Context, m Machine, id string) (deliveredCopy, error) {
	deadline := time.Now().Add(listsWait)
	for {
		out, err := m.Run(ctx, fmt.Sprintf(findDelivered, id))
		if err != nil {
			return deliveredCopy{}, fmt.Errorf("read /var/mail/root: %w", err)
		}
		var d deliveredCopy
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &d); err != nil {
			return d, fmt.Errorf("read /var/mail/root: %v; the guest printed %q", err, clip(out, 120))
		}
		if d.Found {
			return d, nil
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("the list's copy of %s is not in /var/mail/root after %s", id, listsWait)
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("the list's copy of %s is not in /var/mail/root: %w", id, ctx.Err())
		case <-time.After(10 * time.Second):
		}
	}
}

// dkimTags reads a DKIM-Signature's tags (d=, s=, ...).
func dkimTags(sig string) map[string]string {
	tags := map[string]string{}
	for _, part := range strings.Split(sig, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok {
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
	}
	return tags
}

func checkListsPost(ctx context.Context, m Machine) (err error) {
	l, remove, err := makeCheckList(ctx, m)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	start := time.Now()
	id, err := postToList(ctx, l, "Ostal check <"+l.member+">", "A post of ostal's lists.post check.")
	if err != nil {
		return err
	}
	m.Note("posted %s to %s", id, l.address())
	if _, err := waitArchived(ctx, l, id); err != nil {
		return err
	}
	m.Note("archived by HyperKitty %.0f s after the post", time.Since(start).Seconds())
	d, err := waitDelivered(ctx, m, id)
	if err != nil {
		return err
	}
	m.Note("in /var/mail/root %.0f s after the post", time.Since(start).Seconds())
	if !strings.Contains(d.Subject, "ostal check") {
		return fmt.Errorf("the delivered copy's subject is %q", d.Subject)
	}
	if d.Signature == "" {
		return errors.New("the delivered copy carries no DKIM-Signature: OpenDKIM did not sign Mailman's mail")
	}
	tags := dkimTags(d.Signature)
	selector, err := m.Run(ctx, "cat /etc/ostal/dkim-selector")
	if err != nil {
		return fmt.Errorf("read the DKIM selector: %w", err)
	}
	if want := strings.TrimSpace(selector); tags["s"] != want {
		return fmt.Errorf("the DKIM-Signature has s=%s, expected the selector %s of /etc/ostal/dkim-selector", tags["s"], want)
	}
	if dom := strings.ToLower(tags["d"]); dom != strings.ToLower(l.site.Domain) && dom != strings.ToLower(l.domain) {
		return fmt.Errorf("the DKIM-Signature has d=%s, expected %s or %s", tags["d"], l.site.Domain, l.domain)
	}
	if !d.Verified {
		why := ""
		if d.VerifyErr != "" {
			why = ": " + d.VerifyErr
		}
		return fmt.Errorf("the DKIM-Signature (d=%s, s=%s) does not verify with the key /usr/lib/ostal/dkim-public prints%s", tags["d"], tags["s"], why)
	}
	m.Note("DKIM-signed d=%s s=%s, valid for the published key", tags["d"], tags["s"])
	return nil
}

// addressForms are the ways a page may still show an address: as is,
// with HyperKitty's full-width at sign, its "(a)" and URL-encoded.
func addressForms(addr string) []string {
	local, domain, _ := strings.Cut(strings.ToLower(addr), "@")
	return []string{local + "@" + domain, local + "\uff20" + domain, local + " (a) " + domain,
		local + "(a)" + domain, local + "%40" + domain, local + "&#64;" + domain}
}

func checkListsArchivePrivacy(ctx context.Context, m Machine) (err error) {
	l, remove, err := makeCheckList(ctx, m)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, remove()) }()
	// No display name: HyperKitty would show the address itself; and the
	// address again in the text.
	id, err := postToList(ctx, l, l.member, "Write to "+l.member+" for the minutes.")
	if err != nil {
		return err
	}
	page, err := waitArchived(ctx, l, id)
	if err != nil {
		return err
	}
	hash := messageIDHash(id)
	pages := map[string][]byte{l.archiveURL("message/" + hash + "/"): page}
	client := WebClient(m)
	for _, u := range []string{
		l.archiveURL("thread/" + hash + "/"),
		l.archiveURL("latest"),
		SiteURL(m, l.domain, "archives/api/list/"+l.address()+"/email/"+hash+"/"),
		l.archiveURL("feed/"),
	} {
		res, err := doWeb(ctx, client, webCall{Method: http.MethodGet, URL: u})
		if err != nil {
			return err
		}
		if res.Status != http.StatusOK {
			return fmt.Errorf("%s: %s", u, res)
		}
		pages[u] = res.Body
	}
	var leaks []string
	for u, body := range pages {
		text := strings.ToLower(string(body))
		for _, form := range addressForms(l.member) {
			if strings.Contains(text, form) {
				leaks = append(leaks, fmt.Sprintf("%s shows %q", u, form))
			}
		}
		if strings.Contains(text, "gravatar.com/avatar") {
			leaks = append(leaks, u+" loads a Gravatar (a hash of the address)")
		}
	}
	// The mbox download holds whole messages, headers and all.
	month := time.Now().UTC().Format("2006-01")
	export := l.archiveURL("export/" + l.address() + "-" + month + ".mbox.gz?start=" + time.Now().UTC().AddDate(0, 0, -2).Format("2006-01-02"))
	res, err := doWeb(ctx, client, webCall{Method: http.MethodGet, URL: export})
	if err != nil {
		return err
	}
	if res.Status == http.StatusOK {
		leaks = append(leaks, export+" downloads the messages as mbox, with their headers")
	}
	if len(leaks) > 0 {
		return fmt.Errorf("the archive shows the author's address %s:\n  %s", l.member, strings.Join(leaks, "\n  "))
	}
	m.Note("%d archive pages without %s; mbox download refused (%d)", len(pages), l.member, res.Status)
	return nil
}

func checkListsNoRelay(ctx context.Context, m Machine) error {
	domain, err := siteName(ctx, m, "lists")
	if err != nil {
		return err
	}
	c, err := smtpSession(ctx, m)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, rcpt := range []string{"someone@example.com", "postmaster@example.org", "no-such-list-" + randomHex(3) + "@" + domain} {
		if err := c.Mail("ostal-check@example.net"); err != nil {
			return fmt.Errorf("MAIL FROM: %w", err)
		}
		err := c.Rcpt(rcpt)
		var reply *textproto.Error
		if err == nil {
			c.Reset()
			return fmt.Errorf("port 25 accepts mail for %s from outside: an open relay, or a list that should not exist", rcpt)
		}
		if !errors.As(err, &reply) || reply.Code < 500 {
			return fmt.Errorf("RCPT TO:<%s>: expected a permanent refusal (5xx), got %v", rcpt, err)
		}
		m.Note("RCPT TO:<%s>: %d %s", rcpt, reply.Code, clip(reply.Msg, 80))
		if err := c.Reset(); err != nil {
			return fmt.Errorf("RSET: %w", err)
		}
	}
	return c.Quit()
}

func checkListsStartTLS(ctx context.Context, m Machine) error {
	domain, err := siteName(ctx, m, "lists")
	if err != nil {
		return err
	}
	c, err := smtpSession(ctx, m)
	if err != nil {
		return err
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return errors.New("port 25 offers no STARTTLS: Postfix finds no certificate in /var/lib/ostal/tls (or was not reloaded after it came)")
	}
	if err := c.StartTLS(&tls.Config{ServerName: domain, RootCAs: m.TLSRoots(), MinVersion: tls.VersionTLS12}); err != nil {
		return fmt.Errorf("STARTTLS on port 25 as %s: %w", domain, err)
	}
	state, _ := c.TLSConnectionState()
	if len(state.PeerCertificates) > 0 {
		cert := state.PeerCertificates[0]
		m.Note("%s, certificate for %s by %s, until %s", tls.VersionName(state.Version),
			strings.Join(cert.DNSNames, " "), cert.Issuer.CommonName, cert.NotAfter.Format(time.DateOnly))
	}
	return c.Quit()
}

// clientAddress is an IPv4 address, or an IPv6 one in brackets as Postfix
// writes them; the loopback and the wildcard are allowed.
var clientAddress = regexp.MustCompile(`(^|[^0-9.])((?:[0-9]{1,3}\.){3}[0-9]{1,3})([^0-9.]|$)|\[(?:IPv6:)?([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)\]`)

func checkListsLogPrivacy(ctx context.Context, m Machine) error {
	since, err := m.Run(ctx, "date +%s")
	if err != nil {
		return err
	}
	since = strings.TrimSpace(since)
	// A refused relay: Postfix logs the client of every refusal.
	c, err := smtpSession(ctx, m)
	if err != nil {
		return err
	}
	if err := c.Mail("ostal-check@example.net"); err != nil {
		c.Close()
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt("someone@example.com"); err == nil {
		c.Close()
		return errors.New("port 25 relays to example.com: see lists.no-relay")
	}
	c.Quit()
	journal := "journalctl -q -o cat -u postfix.service -u opendkim.service --since @" + since
	var lines []string
	for deadline := time.Now().Add(time.Minute); ; {
		out, err := m.Run(ctx, journal)
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		lines = strings.Split(strings.TrimSpace(out), "\n")
		if strings.Contains(out, "someone@example.com") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Postfix's refusal of someone@example.com is not in the journal a minute later: its log does not reach it (%d lines since)", len(lines))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
	var leaks []string
	for _, line := range lines {
		for _, sub := range clientAddress.FindAllStringSubmatch(line, -1) {
			if a := sub[2] + sub[4]; a != "127.0.0.1" && a != "0.0.0.0" && a != "::1" {
				leaks = append(leaks, clip(line, 160))
			}
		}
		if strings.Contains(line, smtpHelo) {
			leaks = append(leaks, clip(line, 160))
		}
	}
	if len(leaks) > 0 {
		return fmt.Errorf("the mail log keeps client addresses or HELO names:\n  %s", strings.Join(leaks, "\n  "))
	}
	m.Note("%d log lines since the refused relay, none with a client address", len(lines))
	return nil
}

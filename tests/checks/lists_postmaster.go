package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"regexp"
	"strings"
	"time"
)

// postmaster@ and abuse@ of the domain, which DMARC, CAA, ACME and
// Mailman name, are taken on port 25 and forwarded to the committee (the
// spec's mail.postmaster, in site.json).
func init() {
	Default.Register(Check{Name: "lists.postmaster", Summary: "port 25 takes postmaster@D and abuse@D (and those of listes.D) and forwards them to the spec's mail.postmaster; no other address at D",
		Timeout: 4 * time.Minute, Services: []string{"lists"}, Run: checkListsPostmaster,
		Writes: "a message to postmaster@ and abuse@, forwarded to the committee (mail.postmaster) unless the check takes it out of Postfix's queue before it leaves"})
}

// postmasterWait bounds how long the forwarded message may take to show
// in Postfix's queue or log.
const postmasterWait = 2 * time.Minute

func checkListsPostmaster(ctx context.Context, m Machine) error {
	site, err := siteInfo(ctx, m)
	if err != nil {
		return err
	}
	if site.Postmaster == "" {
		return errors.New("/etc/ostal/site.json names no postmaster address: the image was built from a spec without mail.postmaster")
	}
	lists, err := site.Name("lists")
	if err != nil {
		return err
	}
	since, err := m.Run(ctx, "date +%s")
	if err != nil {
		return err
	}
	sender := "ostal-check-" + randomHex(6) + "@example.net"
	roles := []string{"postmaster@" + site.Domain, "abuse@" + site.Domain}
	c, err := smtpSession(ctx, m)
	if err != nil {
		return err
	}
	defer c.Close()

	// The lists' roles are taken too, and nobody else at the domain: no
	// message, only the answers to RCPT.
	code, err := roleRecipients(c, sender, []string{"postmaster@" + lists, "abuse@" + lists}, site.Domain, site.Postmaster)
	if err != nil {
		return err
	}
	if err := c.Reset(); err != nil {
		return fmt.Errorf("RSET: %w", err)
	}

	// One message to the domain's two roles.
	if err := sendTo(c, sender, roles, site.Domain); err != nil {
		return err
	}
	c.Quit()

	deadline := time.Now().Add(postmasterWait)
	for {
		out, err := m.Run(ctx, "postqueue -j")
		if err != nil {
			return fmt.Errorf("read Postfix's queue: %w", err)
		}
		queue, err := parsePostqueue(out)
		if err != nil {
			return err
		}
		if msg, ok := queuedFrom(queue, sender); ok {
			for _, r := range msg.Recipients {
				if !strings.EqualFold(r.Address, site.Postmaster) {
					return fmt.Errorf("the message to %s is queued for %s, not for mail.postmaster %s", strings.Join(roles, " and "), r.Address, site.Postmaster)
				}
			}
			// It goes nowhere from a test network; elsewhere it may still
			// be on its way, and the committee need not read it.
			if _, err := m.Run(ctx, "postsuper -d "+msg.ID); err != nil {
				return fmt.Errorf("remove the check's message %s from the queue: %w", msg.ID, err)
			}
			m.Note("RCPT TO %s, %s and those of %s: 250; another address refused (%d); queued (%s, %s) for %s, then removed",
				roles[0], roles[1], lists, code, msg.Queue, clip(msg.reason(), 60), site.Postmaster)
			return nil
		}
		journal, err := m.Run(ctx, "journalctl -q -o cat -u postfix.service --since @"+strings.TrimSpace(since))
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		sent, bounced := forwardedInLog(journal, site.Postmaster, roles)
		if bounced != "" {
			return fmt.Errorf("the message to %s, forwarded to %s, bounced: %s", strings.Join(roles, " and "), site.Postmaster, clip(bounced, 200))
		}
		if sent {
			m.Note("RCPT TO %s, %s and those of %s: 250; another address refused (%d); delivered to %s", roles[0], roles[1], lists, code, site.Postmaster)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the message from %s to %s is neither in Postfix's queue (postqueue -j) nor logged as delivered to %s after %s",
				sender, strings.Join(roles, " and "), site.Postmaster, postmasterWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// roleRecipients opens an envelope from sender and checks that port 25
// takes each of roles at RCPT, as they are forwarded to postmaster, and
// refuses a made-up address at domain, permanently: it returns that
// refusal's code. The envelope is left open, without DATA: the caller
// resets it, and no message exists until one is sent.
func roleRecipients(c *smtp.Client, sender string, roles []string, domain, postmaster string) (int, error) {
	if postmaster == "" {
		postmaster = "mail.postmaster"
	}
	if err := c.Mail(sender); err != nil {
		return 0, fmt.Errorf("MAIL FROM:<%s>: %w", sender, err)
	}
	for _, r := range roles {
		if err := c.Rcpt(r); err != nil {
			return 0, fmt.Errorf("RCPT TO:<%s>: %w; expected 250, as it is forwarded to %s", r, err, postmaster)
		}
	}
	unknown := "no-one-" + randomHex(3) + "@" + domain
	var reply *textproto.Error
	if err := c.Rcpt(unknown); err == nil {
		return 0, fmt.Errorf("port 25 takes mail for %s: the domain has no mailboxes, only postmaster@ and abuse@ should be taken", unknown)
	} else if !errors.As(err, &reply) || reply.Code < 500 {
		return 0, fmt.Errorf("RCPT TO:<%s>: expected a permanent refusal (5xx), got %v", unknown, err)
	}
	return reply.Code, nil
}

// sendTo sends the check's message to the recipients, each of which must
// be taken (250).
func sendTo(c *smtp.Client, sender string, rcpts []string, domain string) error {
	if err := c.Mail(sender); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %w", sender, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("RCPT TO:<%s>: %w; expected 250: postmaster@ and abuse@ must reach the committee (mail.postmaster)", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	msg := strings.Join([]string{
		"From: " + sender,
		"To: " + strings.Join(rcpts, ", "),
		"Subject: ostal check: postmaster@ and abuse@ of " + domain + " reach you",
		fmt.Sprintf("Message-ID: <ostal-check-%s@%s>", randomHex(8), domain),
		"Date: " + time.Now().UTC().Format(time.RFC1123Z),
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"ostal's check lists.postmaster sent this to " + strings.Join(rcpts, " and ") + ",",
		"to see that they are forwarded to the committee. Nothing to do.",
		"",
	}, "\r\n")
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("send the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("the message to %s was refused: %w", strings.Join(rcpts, " and "), err)
	}
	return nil
}

// queuedMail is one message as `postqueue -j` lists it.
type queuedMail struct {
	Queue      string `json:"queue_name"`
	ID         string `json:"queue_id"`
	Sender     string `json:"sender"`
	Recipients []struct {
		Address string `json:"address"`
		Reason  string `json:"delay_reason"`
	} `json:"recipients"`
}

// reason is why the message waits, if Postfix said.
func (q queuedMail) reason() string {
	for _, r := range q.Recipients {
		if r.Reason != "" {
			return r.Reason
		}
	}
	return "not tried yet"
}

var queueIDRE = regexp.MustCompile(`^[0-9A-Za-z]+$`)

// parsePostqueue reads `postqueue -j`: one JSON object a line.
func parsePostqueue(out string) ([]queuedMail, error) {
	var queue []queuedMail
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		var q queuedMail
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			return nil, fmt.Errorf("postqueue -j printed %q: %v", clip(line, 120), err)
		}
		if !queueIDRE.MatchString(q.ID) {
			return nil, fmt.Errorf("postqueue -j printed a queue id %q", q.ID)
		}
		queue = append(queue, q)
	}
	return queue, nil
}

// queuedFrom is the queued message of sender, if there is one.
func queuedFrom(queue []queuedMail, sender string) (queuedMail, bool) {
	for _, q := range queue {
		if strings.EqualFold(q.Sender, sender) && len(q.Recipients) > 0 {
			return q, true
		}
	}
	return queuedMail{}, false
}

// deliveryRE is Postfix's line for one recipient's delivery.
var deliveryRE = regexp.MustCompile(`\bto=<([^>]*)>, orig_to=<([^>]*)>,.* status=(\w+)`)

// forwardedInLog says whether the log shows mail to one of the roles
// delivered to to (sent: Postfix may keep one recipient of several that
// became the same), or a bounce of one (its line).
func forwardedInLog(journal, to string, roles []string) (sent bool, bounced string) {
	delivered := map[string]bool{}
	for _, line := range strings.Split(journal, "\n") {
		m := deliveryRE.FindStringSubmatch(line)
		if m == nil || !strings.EqualFold(m[1], to) {
			continue
		}
		for _, r := range roles {
			if strings.EqualFold(m[2], r) {
				switch m[3] {
				case "sent":
					delivered[r] = true
				case "bounced":
					return false, line
				}
			}
		}
	}
	return len(delivered) > 0, ""
}

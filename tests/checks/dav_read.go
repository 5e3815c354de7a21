package checks

import (
	"context"
	"time"
)

// dav.login-required is the calendars' read-only proof of service, the
// one the deployer runs on production (dav.calendar and dav.contacts make
// members): nginx serves a browser the page saying how to connect and
// refuses a calendar program without a password it checked. Radicale
// itself answers only members: that it runs and listens is in the
// guest's own health report, which the deployer waits for first.
func init() {
	Default.Register(Check{Name: "dav.login-required", Summary: "a browser at https://dav.D/ is told how to connect; PROPFIND and GET of a member's collections answer 401 with a Basic challenge without a password and with a wrong one",
		Timeout: time.Minute, Services: []string{"dav", "tls"}, Run: func(ctx context.Context, m Machine) error {
			return checkLoginRequired(ctx, m, "dav", "ostal-nobody-"+randomHex(4)+"/")
		}})
}

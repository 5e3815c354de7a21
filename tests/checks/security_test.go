package checks

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The probe's verdicts: each attempt that must fail and did not is
// named; what a service needs and was refused is named too; a probe cut
// short, or one that could not tell the users, fails.
func TestJudgeSecurityProbe(t *testing.T) {
	m := &rootedMachine{}
	ok := "USERS wiki=ostal-wiki www=ostal-www lists=ostal-lists-web nginx=www-data radicale=radicale\n" +
		"ok ostal-wiki wiki:reads-its-secret:wiki-db\nok ostal-wiki wiki:secret:wordpress-db\nDONE\n"
	require.NoError(t, judgeSecurityProbe(m, ok))

	leak := "USERS wiki=www-data www=www-data lists=www-data nginx=www-data radicale=radicale\n" +
		"ok www-data wiki:reads-its-secret:wiki-db\nLEAK www-data wiki:secret:wordpress-db\n" +
		"LEAK www-data wiki:a-member's-file\nBROKEN www-data nginx:connects-to:/run/php/wiki.sock\nDONE\n"
	err := judgeSecurityProbe(m, leak)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 of 4 attempts succeeded that must fail")
	assert.Contains(t, err.Error(), "www-data wiki:secret:wordpress-db\n  www-data wiki:a-member's-file")
	assert.Contains(t, err.Error(), "refused what the service needs:\n  www-data nginx:connects-to:/run/php/wiki.sock")

	err = judgeSecurityProbe(m, "ok ostal-wiki wiki:secret:wordpress-db\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the probe stopped before its end")
	err = judgeSecurityProbe(m, "ERROR cannot tell the services' users: wiki ''\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot tell the services' users")
}

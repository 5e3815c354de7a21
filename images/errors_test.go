package images

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFieldErrorText(t *testing.T) {
	assert.Equal(t, "a.yaml: name: bad; fix it", (&FieldError{File: "a.yaml", Field: "name", Problem: "bad", Hint: "fix it"}).Error())
	assert.Equal(t, "a.yaml: bad", (&FieldError{File: "a.yaml", Problem: "bad"}).Error())
}

func TestProblemsFlattens(t *testing.T) {
	one := &FieldError{File: "a", Field: "x", Problem: "p1"}
	two := &FieldError{File: "a", Field: "y", Problem: "p2"}
	three := &FieldError{File: "b", Field: "z", Problem: "p3"}

	assert.Empty(t, Problems(nil))
	assert.Empty(t, Problems(errors.New("plain")))
	assert.Equal(t, []*FieldError{one}, Problems(one))
	assert.Equal(t, []*FieldError{one}, Problems(fmt.Errorf("wrapped: %w", one)))

	nested := multierror.Append(one, multierror.Append(two, errors.New("not a field error")), three)
	assert.Equal(t, []*FieldError{one, two, three}, Problems(fmt.Errorf("outer: %w", nested)))
}

func TestProblemsListFormat(t *testing.T) {
	p := &problems{file: "a.yaml"}
	require.NoError(t, p.err())
	p.add("name", "hint", "%q is bad", "X")
	assert.Equal(t, `a.yaml: name: "X" is bad; hint`, p.err().Error(), "one problem is one line")
	p.add("hostname", "", "also bad")
	assert.Equal(t, "2 problems:\n  a.yaml: name: \"X\" is bad; hint\n  a.yaml: hostname: also bad", p.err().Error())
}

package hciot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeferredLookupAnswersOnceSet(t *testing.T) {
	var d DeferredLookup
	_, ok := d.Machine("101010")
	assert.False(t, ok, "an unset lookup knows no machine")
	_, ok = d.PersonName("u1")
	assert.False(t, ok)
	srv, err := NewServer(WithApp("app", "secret"))
	require.NoError(t, err)
	defer srv.Close()
	d.Set(srv)
	_, ok = d.Machine("101010")
	assert.False(t, ok, "the server has no such machine yet")
}

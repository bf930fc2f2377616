package userauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tarilabs/userauth"
)

// TestLogoutDuringAnOutageSaysSo: storage is unreachable. Logout and
// LogoutLocal return its error, and change nothing: no other store, nor
// the next process, is left using a session the caller believes ended.
func TestLogoutDuringAnOutageSaysSo(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{false, true} {
		e := newAtkEnv(t)
		ctx := context.Background()
		storage := &failingStorage{MemoryStorage: userauth.NewMemoryStorage()}
		a := e.annStore(t, storage)
		storage.down.Store(true)
		var err error
		if local {
			err = a.LogoutLocal(ctx)
		} else {
			err = a.Logout(ctx)
		}
		assert.ErrorIs(t, err, userauth.ErrStorageUnavailable, "local=%v", local)
		storage.down.Store(false)
		_, err = a.AccessToken(ctx)
		assert.NoError(t, err, "local=%v: the session is as storage has it", local)
	}
}

// viewOf is one process's view of a shared MemoryStorage, which can be cut
// off from it (a network partition).
type viewOf struct {
	*userauth.MemoryStorage
	down bool
}

type cutView struct{ v *viewOf }

func (c cutView) Load(ctx context.Context) (*userauth.Record, error) {
	if c.v.down {
		return nil, errUnavailable
	}
	return c.v.MemoryStorage.Load(ctx)
}

func (c cutView) Save(ctx context.Context, r *userauth.Record) error {
	if c.v.down {
		return errUnavailable
	}
	return c.v.MemoryStorage.Save(ctx, r)
}

func (c cutView) Lock(ctx context.Context) (func(), error) {
	if c.v.down {
		return nil, errUnavailable
	}
	return c.v.MemoryStorage.Lock(ctx)
}

// TestLogoutWinsOverARenewalMadeInAPartition: B, cut off from storage,
// renews alone; A logs out (locally or on the server) meanwhile. When B is
// back, its renewal and the logout forked from one record: the logout
// wins, and B never writes the session back.
func TestLogoutWinsOverARenewalMadeInAPartition(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{true, false} {
		e := newAtkEnv(t)
		ctx := context.Background()
		mem := userauth.NewMemoryStorage()
		va, vb := &viewOf{MemoryStorage: mem}, &viewOf{MemoryStorage: mem}
		a := e.annStore(t, cutView{va})
		b := e.store(t, cutView{vb})
		_, err := b.AccessToken(ctx)
		require.NoError(t, err)
		vb.down = true
		e.srv.Advance(16 * time.Minute)
		_, err = b.AccessToken(ctx) // B renews alone (degraded mode)
		require.NoError(t, err)
		if local {
			require.NoError(t, a.LogoutLocal(ctx))
		} else {
			require.NoError(t, a.Logout(ctx))
		}
		vb.down = false
		e.srv.Advance(2 * time.Second)
		_, _ = b.AccessToken(ctx) // its unsaved pair, due: served, written back behind... or not
		require.Eventually(t, func() bool {
			_, err := b.AccessToken(ctx)
			return errors.Is(err, userauth.ErrLoginRequired)
		}, 5*time.Second, 5*time.Millisecond, "local=%v: B learns of the logout", local)
		rec, _ := mem.Load(ctx)
		assert.Equal(t, userauth.PhaseLoggedOut, rec.Phase, "local=%v: the session was written back after the logout", local)
	}
}

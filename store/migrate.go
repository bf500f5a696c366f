package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// migrationLockID serializes migrations of replicas starting together on PostgreSQL.
const migrationLockID = 0x70746730 // "ptg0"

// Migrate creates or updates every table and index. It is idempotent and safe to
// run from several processes at once (PostgreSQL serializes them with an
// advisory lock).
func (s *Store) Migrate(ctx context.Context) error {
	s.migrating.Lock()
	defer s.migrating.Unlock()
	if s.dialect != Postgres {
		return wrap("migrate", s.conn(ctx).AutoMigrate(allRecords()...))
	}
	// A session-level advisory lock must be taken and released on one connection.
	err := s.conn(ctx).Connection(func(c *gorm.DB) error {
		if err := c.Exec("SELECT pg_advisory_lock(?)", migrationLockID).Error; err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		defer c.Exec("SELECT pg_advisory_unlock(?)", migrationLockID)
		return c.AutoMigrate(allRecords()...)
	})
	return wrap("migrate", err)
}

package store

import "time"

// Organization is a workspace.
type Organization struct {
	ID        string    `gorm:"primaryKey;size:36"`
	Slug      string    `gorm:"size:64;not null;uniqueIndex"`
	Name      string    `gorm:"size:200;not null"`
	CreatedAt time.Time `gorm:"not null"`
}

// User is a person who can sign in; Email is stored lower-cased.
type User struct {
	ID           string    `gorm:"primaryKey;size:36"`
	Email        string    `gorm:"size:320;not null;uniqueIndex"`
	Name         string    `gorm:"size:200;not null"`
	PasswordHash string    `gorm:"size:200;not null"`
	CreatedAt    time.Time `gorm:"not null"`
}

// Membership gives a user one role in one organization.
type Membership struct {
	ID        string       `gorm:"primaryKey;size:36"`
	OrgID     string       `gorm:"size:36;not null;uniqueIndex:ux_memberships_org_user"`
	UserID    string       `gorm:"size:36;not null;uniqueIndex:ux_memberships_org_user;index"`
	Role      string       `gorm:"size:16;not null"`
	CreatedAt time.Time    `gorm:"not null"`
	UpdatedAt time.Time    `gorm:"not null"`
	Org       Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
	User      User         `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// APIKey is a scoped ptg_ key. Only the SHA-256 digest of the secret is kept.
type APIKey struct {
	ID         string    `gorm:"primaryKey;size:36"`
	OrgID      string    `gorm:"size:36;not null;index:ix_api_keys_org_user,priority:1;index:ix_api_keys_creator_created,priority:1"`
	UserID     string    `gorm:"size:36;not null;index:ix_api_keys_org_user,priority:2;index:ix_api_keys_creator_created,priority:2"`
	Name       string    `gorm:"size:400;not null"`
	Digest     []byte    `gorm:"not null;uniqueIndex"`
	Hint       string    `gorm:"size:32;not null"`
	Scopes     string    `gorm:"size:2000;not null"`
	CreatedAt  time.Time `gorm:"index:ix_api_keys_creator_created,priority:3"`
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	Org        Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
	User       User         `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// AuditEvent is one append-only audit log entry. It never holds a secret.
type AuditEvent struct {
	ID                  string    `gorm:"primaryKey;size:36"`
	OrgID               string    `gorm:"size:36;not null;index"`
	At                  time.Time `gorm:"not null"`
	Action              string    `gorm:"size:64;not null"`
	TargetType          string    `gorm:"size:32;not null"`
	TargetID            string    `gorm:"size:64;not null"`
	ActorUserID         string    `gorm:"size:36;not null"`
	ActorCredentialType string    `gorm:"size:32;not null"`
	ActorCredentialID   string    `gorm:"size:64;not null"`
	Via                 string    `gorm:"size:16;not null;default:''"`
	Address             string    `gorm:"size:64;not null"`
	UserAgent           string    `gorm:"size:512;not null"`
	Detail              string    `gorm:"size:2000;not null"`
}

// OAuthClient is a machine-to-machine client. Its id is public; only the SHA-256
// digest of its secret is kept.
type OAuthClient struct {
	ID              string    `gorm:"primaryKey;size:36"`
	OrgID           string    `gorm:"size:36;not null;index:ix_oauth_clients_org_user,priority:1;index:ix_oauth_clients_creator_created,priority:1"`
	UserID          string    `gorm:"size:36;not null;index:ix_oauth_clients_org_user,priority:2;index:ix_oauth_clients_creator_created,priority:2"`
	Name            string    `gorm:"size:400;not null"`
	ClientID        string    `gorm:"size:64;not null;uniqueIndex"`
	SecretDigest    []byte    `gorm:"not null;uniqueIndex"`
	SecretHint      string    `gorm:"size:32;not null"`
	Scopes          string    `gorm:"size:2000;not null"`
	CreatedAt       time.Time `gorm:"index:ix_oauth_clients_creator_created,priority:3"`
	LastUsedAt      *time.Time
	RevokedAt       *time.Time
	SecretRotatedAt *time.Time
	Org             Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
	User            User         `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// TableName keeps gorm from naming the table "o_auth_clients".
func (OAuthClient) TableName() string { return "oauth_clients" }

// SigningKey is a key pair that signs access tokens. The newest key without
// RetiredAt signs; retired keys stay published until their tokens have expired.
type SigningKey struct {
	ID  string `gorm:"primaryKey;size:64"` // the JWS kid
	Alg string `gorm:"size:16;not null"`
	// PrivateKey is the PKCS #8 DER of the private key when SecretKeyID is
	// empty, else its encrypted envelope (the auth package's format).
	PrivateKey []byte `gorm:"not null"`
	// SecretKeyID names the secret key that encrypts PrivateKey (a digest of
	// it, never the key); empty for a key stored unencrypted.
	SecretKeyID string `gorm:"size:32;not null;default:''"`
	CreatedAt   time.Time
	RetiredAt   *time.Time
	// RevokedAt withdraws a leaked key: its tokens are refused at once.
	RevokedAt *time.Time
}

// RevokedToken denies one access token (by jti) until it would have expired.
type RevokedToken struct {
	JTI       string    `gorm:"primaryKey;size:64"`
	ClientID  string    `gorm:"size:64;not null"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// Session is a person signed in to the web pages. Only the SHA-256 digest of its
// token (the cookie) is kept. OrgID is empty until the person picks the
// organization the session acts in.
type Session struct {
	ID         string    `gorm:"primaryKey;size:36"`
	UserID     string    `gorm:"size:36;not null;index"`
	OrgID      string    `gorm:"size:36;not null;default:'';index"`
	Digest     []byte    `gorm:"not null;uniqueIndex"`
	CreatedAt  time.Time `gorm:"not null"`
	LastSeenAt time.Time `gorm:"not null"`
	// ExpiresAt is the absolute end; the idle end follows LastSeenAt.
	ExpiresAt time.Time `gorm:"not null"`
	RevokedAt *time.Time
	Address   string `gorm:"size:64;not null"`
	UserAgent string `gorm:"size:512;not null"`
	User      User   `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// Invitation lets the holder of its one-time link join an organization with a
// role. Only the digest of the link's token is kept.
type Invitation struct {
	ID         string    `gorm:"primaryKey;size:36"`
	OrgID      string    `gorm:"size:36;not null;index"`
	Email      string    `gorm:"size:320;not null"`
	Role       string    `gorm:"size:16;not null"`
	Digest     []byte    `gorm:"not null;uniqueIndex"`
	InvitedBy  string    `gorm:"size:36;not null"`
	CreatedAt  time.Time `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null"`
	AcceptedAt *time.Time
	AcceptedBy string `gorm:"size:36;not null;default:''"`
	RevokedAt  *time.Time
	Org        Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// PasswordReset lets the holder of its one-time link set a person's password
// (made by an operator). Only the digest of the link's token is kept.
type PasswordReset struct {
	ID        string    `gorm:"primaryKey;size:36"`
	UserID    string    `gorm:"size:36;not null;index"`
	Digest    []byte    `gorm:"not null;uniqueIndex"`
	CreatedAt time.Time `gorm:"not null"`
	ExpiresAt time.Time `gorm:"not null"`
	UsedAt    *time.Time
	User      User `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// allRecords lists every table, in creation order, for migrations.
func allRecords() []any {
	return []any{&Organization{}, &User{}, &Membership{}, &APIKey{}, &AuditEvent{},
		&OAuthClient{}, &SigningKey{}, &RevokedToken{}, &Session{}, &Invitation{}, &PasswordReset{}}
}

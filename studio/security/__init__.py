"""Who may drive the studio's server: allowed Host names and Origins (DNS rebinding, CSRF),
and the gateway token that /v1 and the local API require (studio/security/guard.py applies them)."""

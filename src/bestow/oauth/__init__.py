"""OAuth 2.0 client credentials: access tokens for the Voucher and Loyalty APIs."""

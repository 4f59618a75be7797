"""Digital vouchers and gift cards (the Voucher API, UNIQREWARDS v3): catalogue and vouchers."""

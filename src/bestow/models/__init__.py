"""Every ORM model, one module per table; importing this package registers them all."""

from bestow.models.admin_token import AdminToken
from bestow.models.audit_entry import AuditEntry
from bestow.models.business_unit import BusinessUnit
from bestow.models.campaign import Campaign
from bestow.models.campaign_variant import CampaignVariant
from bestow.models.client import Client
from bestow.models.client_merchant import ClientMerchant
from bestow.models.credential import Credential
from bestow.models.holdout import Holdout
from bestow.models.idempotency_record import IdempotencyRecord
from bestow.models.issuance_failure import IssuanceFailure
from bestow.models.issuance_job import IssuanceJob
from bestow.models.issued_reward import IssuedReward
from bestow.models.job import Job
from bestow.models.lab import (
    Attestation,
    CatalogueItem,
    CertificationRun,
    FaultRule,
    RequestLogEntry,
)
from bestow.models.location import Location
from bestow.models.loyalty import (
    LoyaltyReward,
    LoyaltySession,
    PointsBalance,
    PointsEntry,
    PointsTransaction,
)
from bestow.models.member import Member
from bestow.models.member_external_id import MemberExternalId
from bestow.models.merchant import Merchant
from bestow.models.operator_reward import (
    OperatorEnrollment,
    OperatorEnrollmentBatch,
    OperatorFreeBet,
    OperatorReward,
)
from bestow.models.outbox_event import OutboxEvent
from bestow.models.product import Product
from bestow.models.reward_template import RewardTemplate
from bestow.models.system_value import SystemValue
from bestow.models.voucher import Voucher, VoucherOrder, VoucherRedemption
from bestow.models.webhook_attempt import WebhookAttempt
from bestow.models.webhook_delivery import WebhookDelivery
from bestow.models.webhook_endpoint import WebhookEndpoint

__all__ = [
    "AdminToken",
    "Attestation",
    "AuditEntry",
    "BusinessUnit",
    "Campaign",
    "CampaignVariant",
    "CatalogueItem",
    "CertificationRun",
    "Client",
    "ClientMerchant",
    "Credential",
    "FaultRule",
    "Holdout",
    "IdempotencyRecord",
    "IssuanceFailure",
    "IssuanceJob",
    "IssuedReward",
    "Job",
    "Location",
    "LoyaltyReward",
    "LoyaltySession",
    "Member",
    "MemberExternalId",
    "Merchant",
    "OperatorEnrollment",
    "OperatorEnrollmentBatch",
    "OperatorFreeBet",
    "OperatorReward",
    "OutboxEvent",
    "PointsBalance",
    "PointsEntry",
    "PointsTransaction",
    "Product",
    "RequestLogEntry",
    "RewardTemplate",
    "SystemValue",
    "Voucher",
    "VoucherOrder",
    "VoucherRedemption",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]

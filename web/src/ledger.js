// The app's view of the chain, rebuilt from the suite's events: policies, requests, approvals and receipts.

import { keccak256, toUtf8Bytes } from "ethers";

export const UNLOCK_TARGET = keccak256(toUtf8Bytes("pamchain:unlock"));
export const PASSWORD_RESET_TARGET = keccak256(toUtf8Bytes("pamchain:password-reset"));

export const Kind = { UNLOCK: 1, ELEVATE: 2, PASSWORD_RESET: 3 };
export const Status = {
  PENDING: 1,
  APPROVED: 2,
  DENIED: 3,
  CANCELLED: 4,
  EXPIRED: 5,
  ACTIVE: 6,
  ENDED: 7,
  FULFILLED: 8,
  FAILED: 9,
};
export const Action = { UNLOCK: 1, ADD_MEMBER: 2, REMOVE_MEMBER: 3, RESET_PASSWORD: 4 };
const FINAL = new Set([3, 4, 5, 7, 8, 9]);
// PamReviews' constants (docs/contracts.md).
export const Reviewer = { SELF: 1, APPROVERS: 2 };
export const ItemStatus = { PENDING: 1, CONFIRMED: 2, LAPSED: 3 };

export function isFinal(status) {
  return FINAL.has(status);
}

export class Ledger {
  constructor() {
    this.policies = new Map(); // target -> latest PolicySet
    this.requests = new Map(); // id -> request record
    this.principalEvents = 0; // bumps when an enrolment/suspension/rotation is seen
    this.campaigns = new Map(); // access-review campaign id -> {id, label, deadline, reviewer, onLapse, closed}
    this.reviewItems = new Map(); // "campaign/item" -> {campaignId, itemId, principal, target, status, by}
  }

  /** PamReviews' events: campaigns and their items. Returns true if `event` was one. */
  applyReview(event, a) {
    const key = () => `${Number(a.campaign_id)}/${Number(a.item_id)}`;
    switch (event.name) {
      case "CampaignOpened":
        this.campaigns.set(Number(a.campaign_id), {
          id: Number(a.campaign_id),
          label: a.label,
          deadline: Number(a.deadline),
          reviewer: Number(a.reviewer),
          onLapse: Number(a.on_lapse),
          closed: false,
        });
        return true;
      case "ReviewItemOpened":
        this.reviewItems.set(key(), {
          campaignId: Number(a.campaign_id),
          itemId: Number(a.item_id),
          principal: a.principal,
          target: a.target,
          status: ItemStatus.PENDING,
          by: null,
        });
        return true;
      case "ReviewItemConfirmed": {
        const item = this.reviewItems.get(key());
        if (item) Object.assign(item, { status: ItemStatus.CONFIRMED, by: a.reviewer });
        return true;
      }
      case "ReviewItemLapsed": {
        const item = this.reviewItems.get(key());
        if (item) item.status = ItemStatus.LAPSED;
        return true;
      }
      case "CampaignClosed": {
        const campaign = this.campaigns.get(Number(a.campaign_id));
        if (campaign) campaign.closed = true;
        return true;
      }
      default:
        return false;
    }
  }

  /** Whether `me` reviews `item`: itself (self-attestation), or a current approver of its policy, never itself. */
  reviews(item, me) {
    const campaign = this.campaigns.get(item.campaignId);
    if (!campaign) return false;
    if (campaign.reviewer === Reviewer.SELF) return item.principal === me;
    const policy = this.policies.get(item.target);
    return item.principal !== me && Boolean(policy && policy.approvers.includes(me));
  }

  /** The items `me` may still confirm: pending, in a campaign neither closed nor past its deadline. */
  toReview(me, now) {
    return [...this.reviewItems.values()]
      .filter((item) => {
        const campaign = this.campaigns.get(item.campaignId);
        return item.status === ItemStatus.PENDING && campaign && !campaign.closed && now < campaign.deadline;
      })
      .filter((item) => this.reviews(item, me))
      .sort((x, y) => x.campaignId - y.campaignId || x.itemId - y.itemId);
  }

  /** Every item `me` reviews or reviewed (for the screen's "done" part and the menu). */
  reviewedBy(me) {
    return [...this.reviewItems.values()].filter((item) => this.reviews(item, me) || item.by === me);
  }

  apply(event) {
    const a = event.args;
    switch (event.name) {
      case "PolicySet":
        this.policies.set(a.target, {
          target: a.target,
          approvalsRequired: Number(a.approvals_required),
          maxDuration: Number(a.max_duration),
          selfService: a.self_service,
          enabled: a.enabled,
          breakGlassApprovals: Number(a.break_glass_approvals),
          breakGlassMaxDuration: Number(a.break_glass_max_duration),
          approvers: [...a.approvers],
        });
        break;
      case "RequestCreated":
        this.requests.set(Number(a.request_id), {
          id: Number(a.request_id),
          kind: Number(a.kind),
          subject: a.subject,
          target: a.target,
          domain: a.domain,
          requester: a.requester,
          duration: Number(a.duration),
          deadline: Number(a.deadline),
          approvalsRequired: Number(a.approvals_required),
          approvals: 0,
          approvers: new Set(),
          breakGlass: a.break_glass,
          justificationHash: a.justification_hash,
          ticket: a.ticket_ref,
          payloadHash: a.payload_hash,
          recorded: Status.PENDING,
          start: 0,
          expiry: 0,
          receipts: [],
          block: event.block,
        });
        break;
      default:
        if (!this.applyReview(event, a)) this.applyToRequest(event, a);
    }
  }

  applyToRequest(event, a) {
    if (/^Principal|^DeviceRotated/.test(event.name)) {
      this.principalEvents += 1;
      return;
    }
    if (a.request_id === undefined) return;
    const r = this.requests.get(Number(a.request_id));
    if (!r) return;
    switch (event.name) {
      case "ApprovalCast":
        r.approvals = Number(a.approvals);
        r.approvers.add(a.approver);
        break;
      case "RequestApproved":
        r.recorded = Status.APPROVED;
        break;
      case "GrantActivated":
        r.recorded = Status.ACTIVE;
        r.start = Number(a.start);
        r.expiry = Number(a.expiry);
        break;
      case "GrantEnded":
        r.recorded = Status.ENDED;
        r.endReason = Number(a.reason);
        break;
      case "RequestDenied":
        r.recorded = Status.DENIED;
        r.deniedBy = a.approver;
        r.denyReasonHash = a.reason_hash;
        break;
      case "RequestCancelled":
        r.recorded = Status.CANCELLED;
        break;
      case "RequestExpired":
        r.recorded = Status.EXPIRED;
        break;
      case "ReceiptPosted": {
        const action = Number(a.action);
        const outcome = Number(a.outcome);
        r.receipts.push({ action, outcome, dc: a.dc_id, block: event.block, time: null });
        if (action === Action.UNLOCK || action === Action.RESET_PASSWORD) {
          r.recorded = outcome === 1 ? Status.FULFILLED : Status.FAILED;
        }
        break;
      }
      default:
        break;
    }
  }

  /** The contract's `status_of`: a pending request past its deadline has expired, a grant past expiry ended. */
  static status(r, now) {
    if (r.recorded === Status.PENDING && now >= r.deadline) return Status.EXPIRED;
    if (r.recorded === Status.ACTIVE && now >= r.expiry) return Status.ENDED;
    return r.recorded;
  }

  mine(subject) {
    return [...this.requests.values()].filter((r) => r.subject === subject).sort((x, y) => y.id - x.id);
  }

  /** Pending requests this principal may approve (never its own, never twice). */
  waitingFor(me, now) {
    return [...this.requests.values()]
      .filter((r) => Ledger.status(r, now) === Status.PENDING && r.subject !== me && !r.approvers.has(me))
      .filter((r) => {
        const policy = this.policies.get(r.target);
        return policy && policy.approvers.includes(me);
      })
      .sort((x, y) => x.id - y.id);
  }

  isApprover(me) {
    for (const policy of this.policies.values()) if (policy.approvers.includes(me)) return true;
    return false;
  }

  /** Elevation targets: every enabled policy that is not the unlock or password-reset one. */
  groups() {
    return [...this.policies.values()].filter(
      (p) => p.enabled && p.target !== UNLOCK_TARGET && p.target !== PASSWORD_RESET_TARGET,
    );
  }
}

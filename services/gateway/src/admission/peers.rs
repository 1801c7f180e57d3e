//! Sharing admission state between gateway instances over core NATS.
//!
//! Every gateway announces its reservations, releases and acknowledged charges (with their
//! stream sequence) on `<prefix>.admission.<tenant>`; every other gateway counts them against
//! the tenant (and key) until the ledger's figure covers the charge's sequence. This shrinks
//! the window in which N gateways admit against the same balance from the ledger's lag to the
//! broadcast latency. Messages are at-most-once: a lost release is forgotten after
//! `RESERVATION_TTL`, a lost charge is covered by the ledger's next figure.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

/// How long a peer's reservation counts without a release or settlement.
pub const RESERVATION_TTL: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Message {
    Reserve {
        gw: Uuid,
        id: Uuid,
        tenant: Uuid,
        key: Option<Uuid>,
        amount: Decimal,
    },
    Release {
        gw: Uuid,
        id: Uuid,
    },
    Settle {
        gw: Uuid,
        id: Uuid,
        cost: Decimal,
        seq: u64,
    },
}

struct PeerReservation {
    tenant: Uuid,
    key: Option<Uuid>,
    amount: Decimal,
    at: Instant,
}

/// What the other gateways have reserved and charged, by tenant or key id.
pub struct Peers {
    gateway_id: Uuid,
    subject_prefix: String,
    out: mpsc::UnboundedSender<(String, Bytes)>,
    reservations: DashMap<Uuid, PeerReservation>,
    reserved: DashMap<Uuid, Decimal>,
    charges: DashMap<Uuid, Vec<(u64, Decimal)>>,
}

impl Peers {
    /// Starts announcing and listening; returns the shared state and its two tasks.
    pub fn start(
        client: async_nats::Client,
        subject_prefix: String,
    ) -> (Arc<Self>, Vec<tokio::task::JoinHandle<()>>) {
        let (out, mut outbox) = mpsc::unbounded_channel::<(String, Bytes)>();
        let peers = Arc::new(Self {
            gateway_id: Uuid::now_v7(),
            subject_prefix,
            out,
            reservations: DashMap::new(),
            reserved: DashMap::new(),
            charges: DashMap::new(),
        });
        let publisher_client = client.clone();
        let sender = tokio::spawn(async move {
            while let Some((subject, payload)) = outbox.recv().await {
                if let Err(err) = publisher_client.publish(subject, payload).await {
                    tracing::warn!(error = %err, "admission announcement not sent");
                }
            }
        });
        let listener_peers = peers.clone();
        let listener = tokio::spawn(async move {
            loop {
                let subject = format!("{}.admission.>", listener_peers.subject_prefix);
                match client.subscribe(subject).await {
                    Ok(mut messages) => {
                        while let Some(message) = messages.next().await {
                            if let Ok(parsed) = serde_json::from_slice::<Message>(&message.payload)
                            {
                                listener_peers.apply(parsed);
                            }
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "admission subscription failed"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        (peers, vec![sender, listener])
    }

    fn announce(&self, tenant: Uuid, message: &Message) {
        if let Ok(payload) = serde_json::to_vec(message) {
            let subject = format!("{}.admission.{tenant}", self.subject_prefix);
            let _ = self.out.send((subject, payload.into()));
        }
    }

    /// Tells the others about a new reservation.
    pub fn announce_reserve(&self, id: Uuid, tenant: Uuid, key: Option<Uuid>, amount: Decimal) {
        let gw = self.gateway_id;
        self.announce(
            tenant,
            &Message::Reserve {
                gw,
                id,
                tenant,
                key,
                amount,
            },
        );
    }

    /// Tells the others a reservation ended without charge.
    pub fn announce_release(&self, id: Uuid, tenant: Uuid) {
        self.announce(
            tenant,
            &Message::Release {
                gw: self.gateway_id,
                id,
            },
        );
    }

    /// Tells the others a reservation became a charge stored at stream sequence `seq`.
    pub fn announce_settle(&self, id: Uuid, tenant: Uuid, cost: Decimal, seq: u64) {
        let gw = self.gateway_id;
        self.announce(tenant, &Message::Settle { gw, id, cost, seq });
    }

    fn apply(&self, message: Message) {
        match message {
            Message::Reserve { gw, .. }
            | Message::Release { gw, .. }
            | Message::Settle { gw, .. }
                if gw == self.gateway_id => {}
            Message::Reserve {
                id,
                tenant,
                key,
                amount,
                ..
            } => {
                for account in std::iter::once(tenant).chain(key) {
                    *self.reserved.entry(account).or_default() += amount;
                }
                self.reservations.insert(
                    id,
                    PeerReservation {
                        tenant,
                        key,
                        amount,
                        at: Instant::now(),
                    },
                );
            }
            Message::Release { id, .. } => {
                self.forget(id);
            }
            Message::Settle { id, cost, seq, .. } => {
                if let Some(reservation) = self.forget(id) {
                    for account in std::iter::once(reservation.tenant).chain(reservation.key) {
                        self.charges.entry(account).or_default().push((seq, cost));
                    }
                }
            }
        }
    }

    fn forget(&self, id: Uuid) -> Option<PeerReservation> {
        let (_, reservation) = self.reservations.remove(&id)?;
        for account in std::iter::once(reservation.tenant).chain(reservation.key) {
            if let Some(mut total) = self.reserved.get_mut(&account) {
                *total -= reservation.amount;
            }
        }
        Some(reservation)
    }

    /// The others' reservations plus their charges after `covered_seq` (which the ledger's
    /// figure does not include yet) for a tenant or key.
    pub fn outstanding(&self, account: Uuid, covered_seq: u64) -> Decimal {
        let reserved = self.reserved.get(&account).map_or(Decimal::ZERO, |r| *r);
        let charged = self
            .charges
            .get_mut(&account)
            .map_or(Decimal::ZERO, |mut charges| {
                charges.retain(|(seq, _)| *seq > covered_seq);
                charges.iter().map(|(_, cost)| *cost).sum()
            });
        reserved + charged
    }

    /// Forgets reservations whose release or settlement never arrived.
    pub fn expire(&self) {
        let stale: Vec<Uuid> = self
            .reservations
            .iter()
            .filter(|r| r.at.elapsed() > RESERVATION_TTL)
            .map(|r| *r.key())
            .collect();
        for id in stale {
            self.forget(id);
        }
    }
}

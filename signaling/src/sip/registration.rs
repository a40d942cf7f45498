//! One account's registration as a task: REGISTER (answering the challenge from the HA1),
//! refresh before expiry, and REGISTER `Expires: 0` when the [`Registration`] handle is dropped
//! (account removed or unregistered, connection closed).
//!
//! ```text
//! register ──▶ Registering ──▶ 2xx ──▶ Registered ──(3/4 of the granted expiry)──▶ refresh
//!                          └─▶ final non-2xx / timeout ──▶ Failed "<code> <reason>" (stops;
//!                              a failed refresh retries with backoff)
//! handle dropped ──▶ (after the exchange in flight) REGISTER Expires: 0 ──▶ task ends
//! ```
//!
//! Progress goes to the owner as [`RegistrationUpdate`]s, each state once per change.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use super::addr::{Aor, Target};
use super::register::{refresh_delay, retry_delay, Ha1, Outcome, RegisterCore, RegisterParams};
use super::ua::{SipUa, UaInner};

/// The registration states of sylkRTC's `registration-state` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    Registering,
    Registered,
    /// `<code> <reason phrase>` of the final answer (`408 Request Timeout` when none came).
    Failed(String),
}

/// A state change of the registration the owner tagged with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationUpdate {
    pub id: u64,
    pub account: String,
    pub state: RegistrationState,
}

/// What to register.
#[derive(Debug, Clone)]
pub struct RegisterAccount {
    /// The account as the client named it (`alice@example.com`); echoed in updates.
    pub account: String,
    pub aor: Aor,
    pub ha1: Ha1,
    pub display_name: Option<String>,
    /// The client's User-Agent; the user agent's own when `None`.
    pub user_agent: Option<String>,
    /// `pn-*` Contact parameters.
    pub contact_params: Vec<(String, String)>,
}

/// A running registration. Dropping it removes the binding (in the background).
#[derive(Debug)]
pub struct Registration {
    token: String,
    _stop: oneshot::Sender<()>,
}

impl Registration {
    /// The `gw` parameter of this binding's Contact.
    pub fn contact_token(&self) -> &str {
        &self.token
    }
}

impl SipUa {
    /// Starts registering `account` at `target` (from [`SipUa::resolve`]). Updates go to
    /// `events`, tagged with `id`; a closed `events` is fine (the binding is still removed).
    pub fn register(
        &self,
        account: RegisterAccount,
        target: Target,
        id: u64,
        events: mpsc::Sender<RegistrationUpdate>,
    ) -> Registration {
        let inner = self.inner.clone();
        let params = RegisterParams {
            aor: account.aor.clone(),
            display_name: account.display_name.clone(),
            user_agent: account
                .user_agent
                .clone()
                .unwrap_or_else(|| inner.config.user_agent.clone()),
            ha1: account.ha1.clone(),
            local_ip: self.local_ip_towards(target.addr),
            local_port: self.local_addr().port(),
            transport: target.transport,
            contact_params: account.contact_params.clone(),
            expires: inner.config.register_expires,
        };
        let core = RegisterCore::new(params, rand::random());
        let token = core.contact_token().to_string();
        inner
            .contacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.clone(), account.account.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = Task {
            live: inner.task_started(),
            ua: inner,
            core,
            target,
            id,
            account: account.account,
            events,
            last: None,
        };
        tokio::spawn(task.run(stop_rx));
        Registration {
            token,
            _stop: stop_tx,
        }
    }
}

struct Task {
    ua: Arc<UaInner>,
    live: super::ua::LiveTask,
    core: RegisterCore,
    target: Target,
    id: u64,
    account: String,
    events: mpsc::Sender<RegistrationUpdate>,
    last: Option<RegistrationState>,
}

impl Task {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut request = self.core.register();
        self.emit(RegistrationState::Registering).await;
        let mut failures = 0u32;
        loop {
            // The exchange in flight finishes (at most Timer F, 32 s) even when the handle is
            // dropped meanwhile: a binding it creates is then removed below.
            let wait = match self.exchange(request).await {
                Outcome::Registered { expires } => {
                    if self.last != Some(RegistrationState::Registered) {
                        info!(account = %self.account, target = %self.target, expires, "sip registered");
                    }
                    failures = 0;
                    self.emit(RegistrationState::Registered).await;
                    Some(refresh_delay(expires))
                }
                Outcome::Failed { reason } => {
                    warn!(account = %self.account, target = %self.target, %reason, "sip registration failed");
                    self.emit(RegistrationState::Failed(reason)).await;
                    if self.core.registered_once() {
                        failures += 1;
                        Some(retry_delay(failures))
                    } else {
                        // The first REGISTER failed: nothing to keep alive, nothing to remove.
                        None
                    }
                }
                other => {
                    warn!(account = %self.account, outcome = ?other, "unexpected registration outcome");
                    None
                }
            };
            match wait {
                Some(delay) => tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = &mut stop => break,
                },
                None => {
                    let _ = (&mut stop).await;
                    break;
                }
            }
            request = self.core.register();
        }
        if self.core.registered_once() {
            let request = self.core.unregister();
            match self.exchange(request).await {
                Outcome::Unregistered => {
                    info!(account = %self.account, target = %self.target, "sip unregistered")
                }
                other => {
                    warn!(account = %self.account, target = %self.target, outcome = ?other, "sip unregistration failed")
                }
            }
        }
        self.ua
            .contacts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.core.contact_token());
        drop(self.live);
    }

    /// Sends `request` and follows the core (challenge answers) to a final outcome.
    async fn exchange(&mut self, mut request: String) -> Outcome {
        loop {
            let response = self.ua.transact(&request, self.target).await;
            match self.core.handle_response(&response) {
                Outcome::Send(next) => request = next,
                Outcome::Wait => {
                    return Outcome::Failed {
                        reason: "500 Internal Server Error".into(),
                    }
                }
                outcome => return outcome,
            }
        }
    }

    /// Tells the owner about a state, once per change.
    async fn emit(&mut self, state: RegistrationState) {
        if self.last.as_ref() == Some(&state) {
            return;
        }
        self.last = Some(state.clone());
        let update = RegistrationUpdate {
            id: self.id,
            account: self.account.clone(),
            state,
        };
        // The owner may be gone (connection closed): the registration still ends cleanly.
        let _ = self.events.send(update).await;
    }
}

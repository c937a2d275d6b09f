//! The service itself: `kmsedge service install|uninstall|start|stop`
//! through the service control manager, and `kmsedge service run`, the
//! command line the manager starts, which hands the process to the
//! manager's dispatcher and runs `kmsedge serve` until told to stop.
use super::entry::{Entry, Kind};
use super::eventlog::{self, EventLog};
use super::{LOG, NAME};
use crate::native::serve;
use anyhow::Context;
use std::boxed::Box;
use std::ffi::OsString;
use std::format;
use std::string::ToString;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::vec;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode, ServiceInfo,
    ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

const DISPLAY_NAME: &str = "kmsedge KMS host";
/// Win32's "an instance of the service is already running".
const ERROR_SERVICE_ALREADY_RUNNING: i32 = 1056;
/// How long `start` and `stop` wait for the service to get there.
const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Register the service (automatic start, LocalSystem) and its Event
    /// Log source; the flags that follow (after an optional `--`) are
    /// `kmsedge serve`'s, checked now and given to the service at each
    /// start. Use absolute paths.
    Install {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "SERVE FLAGS")]
        serve: Vec<OsString>,
    },
    /// Stop the service if it runs, and remove it and its event source.
    Uninstall,
    /// Start the service and wait until it runs.
    Start,
    /// Stop the service and wait until it has stopped.
    Stop,
    /// The service's entry point, started by the service control manager.
    #[command(hide = true)]
    Run(serve::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Install { serve } => install(serve),
        Action::Uninstall => uninstall(),
        Action::Start => start(),
        Action::Stop => stop(),
        Action::Run(a) => dispatch(a),
    }
}

/// `kmsedge serve`'s flags, parsed as `serve` would.
#[derive(clap::Parser)]
#[command(name = "kmsedge serve")]
struct ServeLine {
    #[command(flatten)]
    args: serve::Args,
}

fn install(flags: Vec<OsString>) -> anyhow::Result<()> {
    let flags: Vec<OsString> = match flags.split_first() {
        Some((first, rest)) if first == "--" => rest.to_vec(),
        _ => flags,
    };
    // Checked before anything changes: a bad flag or configuration gets
    // its one line now, not at the first start.
    let parsed = <ServeLine as clap::Parser>::try_parse_from(std::iter::once(OsString::from("serve")).chain(flags.iter().cloned()))
        .map_err(|e| {
            let line = e.render().to_string();
            let line = line.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
            anyhow::anyhow!("serve flags: {line}")
        })?;
    serve::Settings::load(&parsed.args)?;
    let exe = std::env::current_exe().context("cannot find kmsedge.exe's own path")?;
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)
        .context("cannot open the service control manager (run as administrator)")?;
    let mut launch_arguments = vec![OsString::from("service"), OsString::from("run")];
    launch_arguments.extend(flags);
    let info = ServiceInfo {
        name: NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments,
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    manager.create_service(&info, ServiceAccess::QUERY_STATUS).with_context(|| format!("cannot create the service {NAME}"))?;
    eventlog::register()?;
    std::println!("service {NAME} installed; events go to the \"{LOG}\" log; start it with: kmsedge service start");
    Ok(())
}

fn open(access: ServiceAccess) -> anyhow::Result<windows_service::service::Service> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("cannot open the service control manager")?;
    manager.open_service(NAME, access).with_context(|| format!("cannot open the service {NAME} (is it installed?)"))
}

/// Polls until the service is in `want`, for at most [`WAIT`].
fn wait_for(service: &windows_service::service::Service, want: ServiceState) -> anyhow::Result<()> {
    let until = Instant::now() + WAIT;
    loop {
        let state = service.query_status().context("cannot query the service")?.current_state;
        if state == want {
            return Ok(());
        }
        if state == ServiceState::Stopped && want == ServiceState::Running {
            anyhow::bail!("the service stopped while starting; see the \"{LOG}\" event log");
        }
        if Instant::now() > until {
            anyhow::bail!("the service is {state:?} after {} s, not {want:?}", WAIT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn start() -> anyhow::Result<()> {
    let service = open(ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    // Already running (started with the system, or by another start): done.
    if service.query_status().context("cannot query the service")?.current_state != ServiceState::Running {
        match service.start::<&str>(&[]) {
            Ok(()) => {}
            Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(ERROR_SERVICE_ALREADY_RUNNING) => {}
            Err(e) => return Err(anyhow::Error::new(e).context("cannot start the service")),
        }
        wait_for(&service, ServiceState::Running)?;
    }
    std::println!("service {NAME} running");
    Ok(())
}

fn stop() -> anyhow::Result<()> {
    let service = open(ServiceAccess::STOP | ServiceAccess::QUERY_STATUS)?;
    if service.query_status().context("cannot query the service")?.current_state != ServiceState::Stopped {
        service.stop().context("cannot stop the service")?;
        wait_for(&service, ServiceState::Stopped)?;
    }
    std::println!("service {NAME} stopped");
    Ok(())
}

fn uninstall() -> anyhow::Result<()> {
    let service = open(ServiceAccess::STOP | ServiceAccess::QUERY_STATUS | ServiceAccess::DELETE)?;
    if service.query_status().context("cannot query the service")?.current_state != ServiceState::Stopped {
        service.stop().context("cannot stop the service")?;
        wait_for(&service, ServiceState::Stopped)?;
    }
    service.delete().context("cannot delete the service")?;
    eventlog::deregister()?;
    std::println!("service {NAME} removed");
    Ok(())
}

/// The serve flags the dispatcher's thread picks up in [`service_main`].
static SERVE: OnceLock<serve::Args> = OnceLock::new();

define_windows_service!(ffi_service_main, service_main);

fn dispatch(args: serve::Args) -> anyhow::Result<()> {
    let _ = SERVE.set(args);
    // Blocks until the service has stopped.
    service_dispatcher::start(NAME, ffi_service_main)
        .context("not started by the service control manager (use `kmsedge service start`, or `kmsedge serve` in a console)")
}

fn service_main(_arguments: Vec<OsString>) {
    let stop = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let stop = stop.clone();
        move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                stop.notify_one();
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        }
    };
    let Ok(status) = service_control_handler::register(NAME, handler) else { return };
    let report = |state, accept, code| {
        let _ = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: ServiceExitCode::Win32(code),
            checkpoint: 0,
            wait_hint: Duration::ZERO,
            process_id: None,
        });
    };
    report(ServiceState::Running, ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN, 0);
    let args = SERVE.get().cloned().unwrap_or_default();
    let (layer, flush) = match EventLog::open() {
        Ok((l, f)) => (Some(Box::new(l) as serve::ExtraLog), Some(f)),
        Err(_) => (None, None),
    };
    let result = serve::run_until(&args, layer, async move {
        stop.notified().await;
        tracing::info!("service stop requested");
    });
    if let Some(f) = flush {
        f.flush(Duration::from_secs(2));
    }
    // ERROR_SERVICE_SPECIFIC_ERROR would need its own code; a generic
    // failure (1) is what the manager shows, the cause is in the log.
    let code = match &result {
        Ok(()) => 0,
        Err(e) => {
            // Logging may not have started (a configuration refused): say it here.
            let _ = eventlog::report_now(&Entry { id: super::entry::ERROR, kind: Kind::Error, text: format!("kmsedge: {e:#}") });
            1
        }
    };
    report(ServiceState::Stopped, ServiceControlAccept::empty(), code);
}

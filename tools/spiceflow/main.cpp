// spiceflow: the command-line front end. `spiceflow serve` runs the SPICE server on
// synthetic desktops; more subcommands (replay, record, probe) come with their issues.
// Exit codes: 0 success, 1 runtime failure, 2 bad usage.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "serve.hpp"

namespace {
constexpr int kExitUsage = 2;
}

int main(int argc, char** argv) {
  CLI::App app{"spiceflow — a GPU-accelerated SPICE remote-display server", "spiceflow"};
  app.set_version_flag("--version", std::string("spiceflow ") + SPICEFLOW_VERSION);
  app.require_subcommand(1);
  spiceflow::tools::ServeConfig serve;
  CLI::App* serve_cmd = spiceflow::tools::add_serve_command(app, serve);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e, std::cout, std::cerr);
    return kExitUsage;
  }
  if (serve_cmd->parsed()) return spiceflow::tools::run_serve(serve);
  return kExitUsage;
}

#include <boost/test/unit_test.hpp>

#include "pipeline/ops/metrics.hpp"
#include "pipeline/ops/process_stats.hpp"
#include "pipeline/ops/top.hpp"

#include <ctime>
#include <string>

using namespace cotflow;

BOOST_AUTO_TEST_CASE(a_stat_line_gives_cpu_memory_and_start_time) {
  // A command name with a space and parentheses, as /proc shows it.
  std::string stat = "4242 (cot flow (x)) S 1 4242 4242 0 -1 4194560 100 0 0 "
                     "0 250 50 0 0 20 0 9 0 1000 123456789 2048 "
                     "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1";
  process_sample s;
  BOOST_TEST_REQUIRE(parse_proc_stat(stat, 100, 4096, 1700000000, s));
  BOOST_TEST(s.cpu_seconds == 3.0);                 // (250 + 50) ticks at 100/s
  BOOST_TEST(s.start_time_seconds == 1700000010.0); // boot + 1000 ticks
  BOOST_TEST(s.virtual_bytes == 123456789.0);
  BOOST_TEST(s.resident_bytes == 2048.0 * 4096);
  BOOST_TEST(!parse_proc_stat("4242 (cut", 100, 4096, 0, s));
  BOOST_TEST(!parse_proc_stat("4242 (short) S 1 2", 100, 4096, 0, s));
  BOOST_TEST(
    parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\n").value_or(0)
    == 1700000000.0);
  BOOST_TEST(!parse_boot_time("cpu  1 2 3\n"));
}

BOOST_AUTO_TEST_CASE(this_process_reads_as_plausible) {
  auto s = read_process_sample();
  BOOST_TEST_REQUIRE(s.has_value());
  BOOST_TEST(s->cpu_seconds >= 0);
  BOOST_TEST(s->resident_bytes > 0);
  BOOST_TEST(s->virtual_bytes >= s->resident_bytes);
  BOOST_TEST(s->open_fds >= 3); // stdin, stdout, stderr at least
  BOOST_TEST(s->max_fds >= s->open_fds);
  auto now = static_cast<double>(std::time(nullptr));
  BOOST_TEST(s->start_time_seconds <= now + 1);
  BOOST_TEST(s->start_time_seconds > now - 86400);
}

BOOST_AUTO_TEST_CASE(the_exposition_has_process_and_build_info_metrics) {
  metrics probe{std::make_shared<stats>()};
  probe.attach();
  auto text = probe.text();
  auto m = parse_prometheus(text);
  for (auto name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds"})
    BOOST_TEST(m.count(name) == 1u, name << " not in:\n" << text);
  BOOST_TEST(m["process_resident_memory_bytes"] > 0);
  BOOST_TEST(text.find("# TYPE process_cpu_seconds_total counter")
             != std::string::npos);
  BOOST_TEST(text.find("\ncotflow_build_info{version=\"") != std::string::npos,
             text);
  for (auto& [name, value] : m)
    if (name.rfind("cotflow_build_info{", 0) == 0)
      BOOST_TEST(value == 1);
}

BOOST_AUTO_TEST_CASE(clamped_values_are_a_counter) {
  auto st = std::make_shared<stats>();
  metrics probe{st};
  probe.attach();
  st->values_clamped += 3;
  auto text = probe.text();
  BOOST_TEST(text.find("# TYPE cotflow_values_clamped_total counter")
               != std::string::npos,
             text);
  BOOST_TEST(parse_prometheus(text)["cotflow_values_clamped_total"] == 3);
}

#include "device/hip/attention_plan.hpp"

namespace kvactor::hip {

int32_t add_block_table(attention_plan& plan, const std::vector<int32_t>& table) {
  const auto offset = static_cast<int32_t>(plan.block_tables.size());
  plan.block_tables.insert(plan.block_tables.end(), table.begin(), table.end());
  return offset;
}

void add_query_row(attention_plan& plan, int32_t pos, int32_t table_offset, int chunk_keys) {
  if (plan.row_first_work.empty()) plan.row_first_work.push_back(0);
  const auto row = static_cast<int32_t>(plan.row_pos.size());
  plan.row_pos.push_back(pos);
  plan.row_table.push_back(table_offset);
  const int32_t chunks = pos / chunk_keys + 1;
  for (int32_t c = 0; c < chunks; ++c) {
    plan.work_row.push_back(row);
    plan.work_chunk.push_back(c);
  }
  plan.row_first_work.push_back(static_cast<int32_t>(plan.work_row.size()));
}

}  // namespace kvactor::hip

# How stages launch jobs: ${cmd} [--max_jobs M] JOB=1:N log/x.JOB.log command args...
# utils/run_jobs.sh runs them on this machine (all at once unless --max_jobs M). For a
# cluster, point these at a launcher with the same interface.
export train_cmd="utils/run_jobs.sh"
export cuda_cmd="utils/run_jobs.sh"
export decode_cmd="utils/run_jobs.sh"

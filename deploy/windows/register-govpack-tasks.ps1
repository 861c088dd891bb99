# Registers govpack's scheduled jobs with Windows Task Scheduler (run as Administrator):
#   powershell -ExecutionPolicy Bypass -File register-govpack-tasks.ps1 -User "MSP\svc-govpack"
# Layout: C:\Program Files\govpack\govpack.exe (it carries its queries\ and report_templates\;
# copies of those folders beside it replace them);
# config, lake, inbox and logs under C:\ProgramData\govpack.
# Secrets: set them as machine environment variables, readable by the service account only
# through its profile, e.g.
#   [Environment]::SetEnvironmentVariable("GOVPACK_TEAMS_WEBHOOK_URL", "<url>", "Machine")
# Exit codes (Last Run Result): 0 ok, 1 partial or failed (run `govpack status`), 2 bad config,
# 3 another run held the lake.
param(
    [Parameter(Mandatory = $true)][string]$User,
    [string]$Exe = "C:\Program Files\govpack\govpack.exe",
    [string]$Data = "C:\ProgramData\govpack"
)
$ErrorActionPreference = "Stop"
New-Item -ItemType Directory -Force -Path "$Data\logs" | Out-Null
$common = "--config `"$Data\govpack.toml`" --log-format json --log-file `"$Data\logs\govpack.log`""
$jobs = @(
    @{ Name = "daily";   Trigger = New-ScheduledTaskTrigger -Weekly -DaysOfWeek Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday -At 5:30am },
    @{ Name = "weekly";  Trigger = New-ScheduledTaskTrigger -Weekly -DaysOfWeek Monday -At 5:30am }
)
$password = Read-Host -AsSecureString "Password for $User"
$plain = [Runtime.InteropServices.Marshal]::PtrToStringAuto([Runtime.InteropServices.Marshal]::SecureStringToBSTR($password))
$settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Hours 3) -MultipleInstances IgnoreNew
foreach ($job in $jobs) {
    $action = New-ScheduledTaskAction -Execute $Exe -Argument "$common run $($job.Name)" -WorkingDirectory $Data
    Register-ScheduledTask -TaskPath "\govpack\" -TaskName $job.Name -Action $action -Trigger $job.Trigger `
        -Settings $settings -User $User -Password $plain -RunLevel Limited -Force | Out-Null
}
# New-ScheduledTaskTrigger has no monthly trigger: schtasks does.
schtasks.exe /Create /F /TN "\govpack\monthly" /SC MONTHLY /D 1 /ST 07:30 /RU $User /RP $plain `
    /TR "`"$Exe`" $common run monthly --wait-for-lock 3600"
Write-Host "Registered \govpack\daily, \govpack\weekly and \govpack\monthly. Check with: Get-ScheduledTask -TaskPath \govpack\"

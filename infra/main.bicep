// The tun VM and everything around it, in one resource group:
// VNet/subnet, static public IP, NSG, NIC, an Ubuntu 24.04 VM with a
// user-assigned managed identity that may edit that NSG (and nothing else), and
// cloud-init that runs infra/install.sh at first boot.
//
//   az group create -n tun-rg -l westeurope
//   az deployment group create -g tun-rg -f infra/main.bicep -p @infra/main.parameters.json
//
// The NSG allows SSH (from sshSourcePrefix), HTTP and HTTPS. It deliberately has
// NO rule for port 25: the CLI opens port 25 with short-lived lease rules
// (tun-smtp-<id>) while a tunnel is up, and `tun janitor` on this VM deletes
// expired ones. Lease rules take priorities from the CLI's azure.priorityRange,
// default 3000-3099 (cli/config/config.ts); the fixed rules below stay outside it.
//
// Redeploying this template resets the NSG's rule list to the rules below and so
// deletes live lease rules: port 25 stays closed for running tunnels (a tunnel
// whose lease vanished does not recreate it) until they are started again.
// Redeploy when no tunnel is up.

targetScope = 'resourceGroup'

@description('Azure region for every resource (default: the resource group\'s).')
param location string = resourceGroup().location

@description('Prefix for resource names.')
@minLength(2)
@maxLength(20)
param namePrefix string = 'tun'

@description('Name of the network security group. The CLI must use the same name: azure.nsg in its config (tun init --azure.nsg ...).')
param nsgName string = '${namePrefix}-nsg'

@description('Tunnel base domain; tunnels are served at <name>.<tunnelDomain> and receive mail for anything@<name>.<tunnelDomain>. Example: tun.example.com')
param tunnelDomain string

@description('Admin (and first tunnel) user on the VM.')
param adminUsername string = 'tun'

@description('SSH public key for adminUsername (password login is disabled).')
param adminSshPublicKey string

@description('Source address prefix allowed to reach SSH on port 22, e.g. 203.0.113.0/24, or * for anywhere.')
param sshSourcePrefix string

@description('VM size. Two vCPUs and 4 GiB run Caddy, the sink and a few tunnels comfortably.')
param vmSize string = 'Standard_B2s'

@description('Contact address for Let\'s Encrypt (optional; expiry warnings go there).')
param acmeEmail string = ''

@description('Git URL the VM clones the project from at first boot.')
param repoUrl string

@description('Branch or tag to clone.')
param repoRef string = 'main'

@description('Optional DNS label for the public IP (<label>.<region>.cloudapp.azure.com).')
param dnsLabel string = ''

@description('Address space of the VNet and the VM\'s subnet.')
param vnetAddressPrefix string = '10.42.0.0/16'
param subnetAddressPrefix string = '10.42.0.0/24'

// Built-in role "Network Contributor". Assigned on the NSG only, so the VM's
// identity can add and delete security rules there and touch nothing else.
var networkContributorRoleId = '4d97b98b-1d4f-4787-a291-c67834d212e7'

// The CLI's default azure.priorityRange for lease rules (cli/config/config.ts).
var leasePriorityRange = '3000-3099'

// Fixed rules, all outside the lease range.
var sshRulePriority = 100
var httpRulePriority = 110
var httpsRulePriority = 120

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-identity'
  location: location
}

resource nsg 'Microsoft.Network/networkSecurityGroups@2023-11-01' = {
  name: nsgName
  location: location
  properties: {
    securityRules: [
      {
        name: 'allow-ssh'
        properties: {
          description: 'SSH for tunnels and administration'
          priority: sshRulePriority
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: sshSourcePrefix
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '22'
        }
      }
      {
        name: 'allow-http'
        properties: {
          description: 'HTTP for tunnels and ACME HTTP-01 challenges'
          priority: httpRulePriority
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '80'
        }
      }
      {
        name: 'allow-https'
        properties: {
          description: 'HTTPS for tunnels'
          priority: httpsRulePriority
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '443'
        }
      }
    ]
  }
}

resource nsgNetworkContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(nsg.id, identity.id, networkContributorRoleId)
  scope: nsg
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', networkContributorRoleId)
    principalId: identity.properties.principalId
    // Declared so the assignment does not wait for the new identity to replicate.
    principalType: 'ServicePrincipal'
    description: 'tun janitor: delete expired port-25 lease rules in ${nsgName}'
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: '${namePrefix}-vnet'
  location: location
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: 'default'
        properties: {
          addressPrefix: subnetAddressPrefix
        }
      }
    ]
  }
}

resource publicIp 'Microsoft.Network/publicIPAddresses@2023-11-01' = {
  name: '${namePrefix}-ip'
  location: location
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
    dnsSettings: empty(dnsLabel) ? null : {
      domainNameLabel: dnsLabel
    }
  }
}

// The NSG sits on the NIC: one place where the lease rules take effect.
resource nic 'Microsoft.Network/networkInterfaces@2023-11-01' = {
  name: '${namePrefix}-nic'
  location: location
  properties: {
    networkSecurityGroup: {
      id: nsg.id
    }
    ipConfigurations: [
      {
        name: 'ipconfig1'
        properties: {
          privateIPAllocationMethod: 'Dynamic'
          subnet: {
            id: vnet.properties.subnets[0].id
          }
          publicIPAddress: {
            id: publicIp.id
          }
        }
      }
    ]
  }
}

var cloudInit = replace(
  replace(
    replace(
      replace(
        replace(
          replace(
            replace(
              replace(
                replace(loadTextContent('cloud-init.yaml'), '__TUN_DOMAIN__', tunnelDomain),
                '__ADMIN_USERNAME__',
                adminUsername
              ),
              '__ACME_EMAIL__',
              acmeEmail
            ),
            '__AZURE_CLIENT_ID__',
            identity.properties.clientId
          ),
          '__AZURE_SUBSCRIPTION_ID__',
          subscription().subscriptionId
        ),
        '__AZURE_RESOURCE_GROUP__',
        resourceGroup().name
      ),
      '__AZURE_NSG__',
      nsgName
    ),
    '__REPO_REF__',
    repoRef
  ),
  '__REPO_URL__',
  repoUrl
)

resource vm 'Microsoft.Compute/virtualMachines@2023-09-01' = {
  name: '${namePrefix}-vm'
  location: location
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    hardwareProfile: {
      vmSize: vmSize
    }
    osProfile: {
      computerName: '${namePrefix}-vm'
      adminUsername: adminUsername
      customData: base64(cloudInit)
      linuxConfiguration: {
        disablePasswordAuthentication: true
        ssh: {
          publicKeys: [
            {
              path: '/home/${adminUsername}/.ssh/authorized_keys'
              keyData: adminSshPublicKey
            }
          ]
        }
      }
    }
    storageProfile: {
      // Ubuntu 24.04 LTS (Noble), Gen2.
      imageReference: {
        publisher: 'Canonical'
        offer: 'ubuntu-24_04-lts'
        sku: 'server'
        version: 'latest'
      }
      osDisk: {
        createOption: 'FromImage'
        diskSizeGB: 30
        deleteOption: 'Delete'
        managedDisk: {
          storageAccountType: 'StandardSSD_LRS'
        }
      }
    }
    networkProfile: {
      networkInterfaces: [
        {
          id: nic.id
          properties: {
            deleteOption: 'Delete'
          }
        }
      ]
    }
    securityProfile: {
      securityType: 'TrustedLaunch'
      uefiSettings: {
        secureBootEnabled: true
        vTpmEnabled: true
      }
    }
    diagnosticsProfile: {
      bootDiagnostics: {
        enabled: true
      }
    }
  }
  // cloud-init's first `tun janitor` run needs the role in place.
  dependsOn: [
    nsgNetworkContributor
  ]
}

@description('The VM\'s public IP address.')
output publicIpAddress string = publicIp.properties.ipAddress

@description('The Azure-provided name of the public IP, when dnsLabel is set.')
output publicFqdn string = publicIp.properties.?dnsSettings.?fqdn ?? ''

@description('DNS records to create at your DNS provider for tunnelDomain.')
output dnsRecords array = [
  {
    name: tunnelDomain
    type: 'A'
    value: publicIp.properties.ipAddress
    purpose: 'the VM itself (SSH host, MX target)'
  }
  {
    name: '*.${tunnelDomain}'
    type: 'A'
    value: publicIp.properties.ipAddress
    purpose: 'every tunnel: https://<name>.${tunnelDomain}'
  }
  {
    name: '*.${tunnelDomain}'
    type: 'MX'
    value: '10 ${tunnelDomain}'
    purpose: 'mail to anything@<name>.${tunnelDomain} goes to the sink'
  }
]

@description('Resource id of the NSG: grant developers "Network Contributor" here so their CLI can open port-25 leases.')
output nsgId string = nsg.id

@description('Client id of the VM\'s managed identity (AZURE_CLIENT_ID for tun janitor).')
output managedIdentityClientId string = identity.properties.clientId

@description('Values for `tun init` on a developer machine.')
output tunConfig object = {
  host: publicIp.properties.ipAddress
  user: adminUsername
  domain: tunnelDomain
  azure: {
    subscriptionId: subscription().subscriptionId
    resourceGroup: resourceGroup().name
    nsg: nsgName
    priorityRange: leasePriorityRange
  }
}

@description('The same as a command line.')
output tunInitCommand string = 'tun init --host ${publicIp.properties.ipAddress} --user ${adminUsername} --domain ${tunnelDomain} --azure.subscription-id ${subscription().subscriptionId} --azure.resource-group ${resourceGroup().name} --azure.nsg ${nsgName}'
